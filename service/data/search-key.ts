/**
 * The form of a place name that prefix search compares: lower case, accents removed, so "sao"
 * finds "São Paulo" and "LISB" finds "Lisbon". The loader stores it for every city and the queries
 * fold what the user typed with the same function.
 */

// Letters that Unicode does not decompose into a base letter plus a mark, but that people type as
// their ASCII look-alikes.
const unmarked: Record<string, string> = {
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ħ: 'h',
  ı: 'i',
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  þ: 'th',
}

/** `text` lower-cased, with diacritics and runs of white space folded. */
export function searchKey(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[øłđħıßæœþ]/g, (letter) => unmarked[letter] ?? letter)
    .replace(/\s+/g, ' ')
    .trim()
}
