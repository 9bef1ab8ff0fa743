/**
 * Ranking: the places the attribute queries found, scored by how well the name matches the text, how
 * near they are to the visitor, how populous they are, and which of the visitor's attributes found
 * them; places served too often in the current window (the result rate limit) are demoted. Every
 * score comes with its reasons (`why`), so an answer explains itself.
 *
 * Results are folded in as each query completes (`add`), and the best are taken once all are in.
 */

import type { Attribute } from './attributes.ts'
import type { City, Place } from './backend-calls.ts'
import { searchKey } from './data/search-key.ts'
import { countriesSpeaking, languageName } from './languages.ts'

/** Who is searching for what: what the ranking compares places to. */
export interface Searcher {
  /** The search text, as typed. */
  text: string
  /** Where the visitor is, when the geocoder knows. */
  place: Place | undefined
  /** Their languages, best first. */
  languages: readonly string[]
  /** Their recent searches, as typed. */
  recent: readonly string[]
}

/** A place in the answer. */
export interface RankedPlace {
  id: number
  name: string
  country: string
  population: number
  lat: number
  lon: number
  /** Higher is better; about 0 to 3. */
  score: number
  /** The reasons behind the score, largest contribution first. */
  why: string[]
}

/** Weights of the score's parts. */
const weights = {
  exactName: 1,
  prefix: 0.5,
  population: 0.6,
  nearness: 0.8,
  country: 0.3,
  language: 0.15,
  recent: 0.4,
}
/** A demoted place keeps this fraction of its score. */
const demotion = 0.5

interface Candidate {
  city: City
  nameKey: string
  found: Set<Attribute>
  served: number
}

/** Scores and keeps the places found for one search; see the module comment. */
export class Ranking {
  readonly #searcher: Searcher
  readonly #key: string
  readonly #recentKeys: { text: string; key: string }[]
  readonly #resultLimit: number
  readonly #candidates = new Map<number, Candidate>()

  /** `resultLimit`: servings per window past which a place is demoted. */
  constructor(searcher: Searcher, resultLimit: number) {
    this.#searcher = searcher
    this.#key = searchKey(searcher.text)
    this.#recentKeys = searcher.recent.map((text) => ({ text, key: searchKey(text) }))
    this.#resultLimit = resultLimit
  }

  /**
   * Folds in what one attribute query found: `cities`, and how often each was served this window.
   * Places whose name does not start with the search text are not candidates, whoever found them.
   */
  add(attribute: Attribute, cities: readonly City[], served: readonly number[]): void {
    cities.forEach((city, i) => {
      let candidate = this.#candidates.get(city.id)
      if (candidate === undefined) {
        const nameKey = searchKey(city.name)
        if (!nameKey.startsWith(this.#key)) return
        candidate = { city, nameKey, found: new Set(), served: 0 }
        this.#candidates.set(city.id, candidate)
      }
      candidate.found.add(attribute)
      candidate.served = Math.max(candidate.served, served[i] ?? 0)
    })
  }

  /** How many places are candidates so far. */
  get size(): number {
    return this.#candidates.size
  }

  /** The best `limit` places, best first (ties: more populous first, then by id). */
  best(limit: number): RankedPlace[] {
    // Every candidate is scored, but only the best are explained: reasons cost strings.
    return [...this.#candidates.values()]
      .map((candidate) => ({ candidate, score: this.#score(candidate, undefined) }))
      .sort(
        (a, b) =>
          b.score - a.score ||
          b.candidate.city.population - a.candidate.city.population ||
          a.candidate.city.id - b.candidate.city.id,
      )
      .slice(0, limit)
      .map(({ candidate }) => {
        const why: string[] = []
        const score = this.#score(candidate, why)
        const { id, name, country, population, lat, lon } = candidate.city
        return { id, name, country, population, lat, lon, score: Math.round(score * 1000) / 1000, why }
      })
  }

  /** The score of `candidate`; its reasons, largest contribution first, go into `why` when given. */
  #score({ city, nameKey, found, served }: Candidate, why: string[] | undefined): number {
    const parts: [number, () => string][] = []
    if (nameKey === this.#key) parts.push([weights.exactName, () => 'the name is what you searched for'])
    else {
      const share = this.#key.length / nameKey.length
      parts.push([
        weights.prefix * (0.5 + share / 2),
        () => `the name starts with "${this.#searcher.text.trim()}"`,
      ])
    }
    if (city.population > 0) {
      const size = Math.min(1, Math.log10(city.population) / 7)
      parts.push([weights.population * size, () => `population ${thousands.format(city.population)}`])
    }
    const place = this.#searcher.place
    if (place !== undefined) {
      const km = distanceKm(place, city)
      parts.push([weights.nearness / (1 + km / 100), () => `${thousands.format(Math.round(km))} km from you`])
    }
    if (found.has('country') && place?.country === city.country) {
      parts.push([weights.country, () => `in your country (${city.country})`])
    }
    if (found.has('language')) {
      const language = this.#searcher.languages.find((code) => countriesSpeaking(code).includes(city.country))
      if (language !== undefined)
        parts.push([weights.language, () => `where ${languageName(language)} is spoken`])
    }
    if (found.has('recent searches')) {
      const searched = this.#recentKeys.find(({ key }) => key !== '' && nameKey.startsWith(key))
      if (searched !== undefined)
        parts.push([weights.recent, () => `you searched for "${searched.text}" recently`])
    }
    let score = parts.reduce((sum, [value]) => sum + value, 0)
    const demoted = served >= this.#resultLimit
    if (demoted) score *= demotion
    if (why !== undefined) {
      for (const [, reason] of parts.sort((a, b) => b[0] - a[0])) why.push(reason())
      if (demoted) why.push(`demoted: served ${thousands.format(served)} times in this window`)
    }
    return score
  }
}

const thousands = new Intl.NumberFormat('en')

/** Great-circle distance in km (haversine). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const radians = Math.PI / 180
  const dLat = (b.lat - a.lat) * radians
  const dLon = (b.lon - a.lon) * radians
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * radians) * Math.cos(b.lat * radians) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)))
}
