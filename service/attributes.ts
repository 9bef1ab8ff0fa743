/**
 * The attribute queries of step 3: one per thing known about the visitor (what they typed, their
 * country, each of their languages, where they are, what they searched before), each a database
 * query with the memcache key its answer is cached under. Queries whose attribute is unknown (no
 * location: no country, no nearby places) are left out.
 */
import { createHash } from 'node:crypto'
import type { Backends, City } from './backend-calls.ts'
import { geoCell, nearbyCells } from './data/geo-cell.ts'
import { searchKey } from './data/search-key.ts'
import { countriesSpeaking } from './languages.ts'
import type { Searcher } from './ranking.ts'

/** The attributes a search is answered from. */
export const attributes = ['query text', 'country', 'language', 'nearby', 'recent searches'] as const
export type Attribute = (typeof attributes)[number]

/** One attribute query. */
export interface AttributeQuery {
  readonly attribute: Attribute
  /** Names its task (`query <name>`): the attribute, with its value where there can be several (`language pt`). */
  readonly name: string
  /** Where its answer is cached in memcache. */
  readonly cacheKey: string
  /**
   * Whether the answer needs it. The query text's query is the answer's core: if it cannot run, the
   * search fails (503 naming the backend). The others only refine it, and are dropped when they fail.
   */
  readonly essential: boolean
  /** Runs it on the database (on a cache miss). */
  run(database: Backends['database']): Promise<City[]>
}

/** How long an attribute query's answer stays in memcache, in seconds: the corpus changes rarely. */
export const attributeTtl = 300

/** The attribute queries for `searcher`, the query text's first. */
export function attributeQueries(searcher: Searcher): AttributeQuery[] {
  const prefix = searchKey(searcher.text)
  const { place, languages, recent } = searcher
  const queries: AttributeQuery[] = [
    {
      attribute: 'query text',
      name: 'text',
      cacheKey: cacheKey('text', prefix),
      essential: true,
      run: async (database) => (await database.citiesStartingWith([prefix]))[0] ?? [],
    },
  ]
  const country = place?.country
  if (country != null) {
    queries.push({
      attribute: 'country',
      name: 'country',
      cacheKey: cacheKey(`country:${country}`, prefix),
      essential: false,
      run: (database) => database.citiesInCountries([country], prefix),
    })
  }
  for (const language of languages) {
    queries.push({
      attribute: 'language',
      name: `language ${language}`,
      cacheKey: cacheKey(`language:${language}`, prefix),
      essential: false,
      run: (database) => database.citiesInCountries(countriesSpeaking(language), prefix),
    })
  }
  if (place !== undefined) {
    queries.push({
      attribute: 'nearby',
      name: 'nearby',
      cacheKey: cacheKey(`nearby:${geoCell(place.lat, place.lon)}`, prefix),
      essential: false,
      run: (database) => database.citiesInCells(nearbyCells(place.lat, place.lon), prefix),
    })
  }
  const earlier = [...new Set(recent.map(searchKey))].filter((key) => key !== '' && key !== prefix)
  if (earlier.length > 0) {
    queries.push({
      attribute: 'recent searches',
      name: 'recent searches',
      cacheKey: cacheKey('recent', earlier.join('\n')),
      essential: false,
      run: async (database) =>
        (await database.citiesStartingWith(earlier)).flatMap((cities) => cities.slice(0, 5)),
    })
  }
  return queries
}

/**
 * A memcache key for a query: search text can be long and hold anything, memcache keys cannot, so
 * the text goes in as a digest.
 */
function cacheKey(kind: string, text: string): string {
  return `aq:${kind}:${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`
}
