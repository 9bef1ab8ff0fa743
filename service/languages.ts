/**
 * The visitor's languages, from `Accept-Language`, and the countries where each is an official or
 * majority language: the "language" attribute query searches those countries.
 */

/** The most languages taken from one header. */
const maxLanguages = 3

/**
 * The primary language subtags of an `Accept-Language` header (RFC 9110), best first: `pt-PT,pt;q=0.9,
 * en;q=0.8` gives `['pt', 'en']`. Entries that do not parse, `*`, and `q=0` are skipped: the header
 * only ever refines the answer, so a bad one is ignored rather than refused.
 */
export function acceptedLanguages(header: string | undefined): string[] {
  if (header === undefined || header.length > 1000) return []
  const weighted: { language: string; q: number; order: number }[] = []
  header.split(',').forEach((entry, order) => {
    const match =
      /^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?))?\s*$/.exec(
        entry,
      )
    if (match === null) return
    const q = match[2] === undefined ? 1 : Number(match[2])
    if (q > 0) weighted.push({ language: (match[1] as string).toLowerCase(), q, order })
  })
  weighted.sort((a, b) => b.q - a.q || a.order - b.order)
  return [...new Set(weighted.map(({ language }) => language))].filter(isKnown).slice(0, maxLanguages)
}

/** The countries (ISO 3166-1 alpha-2) where `language` is spoken by most or is official; [] if unknown. */
export function countriesSpeaking(language: string): readonly string[] {
  return languages[language]?.countries ?? []
}

/** The English name of a language we know countries for, for the ranking's explanations. */
export function languageName(language: string): string {
  return languages[language]?.name ?? language
}

function isKnown(language: string): boolean {
  return Object.hasOwn(languages, language)
}

const languages: Readonly<Record<string, { name: string; countries: readonly string[] }>> = {
  ar: {
    name: 'Arabic',
    countries: [
      'SA',
      'EG',
      'DZ',
      'MA',
      'IQ',
      'SY',
      'JO',
      'AE',
      'LB',
      'LY',
      'TN',
      'YE',
      'OM',
      'KW',
      'QA',
      'BH',
      'SD',
    ],
  },
  bn: { name: 'Bengali', countries: ['BD'] },
  cs: { name: 'Czech', countries: ['CZ'] },
  da: { name: 'Danish', countries: ['DK'] },
  de: { name: 'German', countries: ['DE', 'AT', 'CH', 'LI', 'LU'] },
  el: { name: 'Greek', countries: ['GR', 'CY'] },
  en: { name: 'English', countries: ['US', 'GB', 'CA', 'AU', 'NZ', 'IE', 'ZA', 'NG', 'PH', 'SG', 'JM'] },
  es: {
    name: 'Spanish',
    countries: [
      'ES',
      'MX',
      'AR',
      'CO',
      'PE',
      'VE',
      'CL',
      'EC',
      'GT',
      'CU',
      'BO',
      'DO',
      'HN',
      'PY',
      'SV',
      'NI',
      'CR',
      'UY',
      'PA',
    ],
  },
  fa: { name: 'Persian', countries: ['IR', 'AF'] },
  fi: { name: 'Finnish', countries: ['FI'] },
  fr: { name: 'French', countries: ['FR', 'BE', 'CH', 'CA', 'LU', 'MC', 'SN', 'CI', 'CM', 'CD', 'HT'] },
  he: { name: 'Hebrew', countries: ['IL'] },
  hi: { name: 'Hindi', countries: ['IN'] },
  hu: { name: 'Hungarian', countries: ['HU'] },
  id: { name: 'Indonesian', countries: ['ID'] },
  it: { name: 'Italian', countries: ['IT', 'SM', 'CH'] },
  ja: { name: 'Japanese', countries: ['JP'] },
  ko: { name: 'Korean', countries: ['KR'] },
  nl: { name: 'Dutch', countries: ['NL', 'BE', 'SR'] },
  no: { name: 'Norwegian', countries: ['NO'] },
  pl: { name: 'Polish', countries: ['PL'] },
  pt: { name: 'Portuguese', countries: ['PT', 'BR', 'AO', 'MZ', 'CV', 'GW', 'ST', 'TL'] },
  ro: { name: 'Romanian', countries: ['RO', 'MD'] },
  ru: { name: 'Russian', countries: ['RU', 'BY', 'KZ', 'KG'] },
  sv: { name: 'Swedish', countries: ['SE'] },
  th: { name: 'Thai', countries: ['TH'] },
  tr: { name: 'Turkish', countries: ['TR'] },
  uk: { name: 'Ukrainian', countries: ['UA'] },
  vi: { name: 'Vietnamese', countries: ['VN'] },
  zh: { name: 'Chinese', countries: ['CN', 'TW', 'SG', 'HK', 'MO'] },
}
