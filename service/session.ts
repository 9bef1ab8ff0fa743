/**
 * Sessions: what the service remembers about a visitor (their recent searches), and the signed
 * cookie that names the session.
 *
 * The cookie carries the session id and an HMAC-SHA256 of it under the server's secret:
 * `sid=<id>.<mac>`. A cookie whose MAC does not match was not issued by this service (or by one
 * sharing its secret); it is refused, not silently replaced, so a tampering client learns nothing
 * and a misconfigured deployment (two secrets) shows up at once. MACs are compared in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { BadRequest } from './errors.ts'

/** A visitor's session, as cached in memcache and saved in the `sessions` table. */
export interface Session {
  /** 22 characters of base64url: 128 random bits. */
  id: string
  /** Epoch ms. */
  createdAt: number
  /** Epoch ms of the last search: orders concurrent updates of the saved row. */
  updatedAt: number
  /** Searches made in this session. */
  searches: number
  /** The last searches' texts, most recent first, without repeats. */
  recent: string[]
}

/** The cookie's name. */
export const sessionCookieName = 'sid'
/** How many recent searches a session keeps. */
export const recentSearches = 5
/** How long the browser keeps the cookie, in seconds (30 days). */
const cookieMaxAge = 30 * 24 * 3600

const idPattern = /^[A-Za-z0-9_-]{22}$/
/** An HMAC-SHA256 in base64url: 32 bytes, 43 characters. */
const macPattern = /^[A-Za-z0-9_-]{43}$/

/** A new, empty session with a fresh random id. */
export function newSession(now: number): Session {
  return {
    id: randomBytes(16).toString('base64url'),
    createdAt: now,
    updatedAt: now,
    searches: 0,
    recent: [],
  }
}

/** The session after one more search for `text`: counted, and first among the recent searches. */
export function afterSearch(session: Session, text: string, now: number): Session {
  const recent = [text, ...session.recent.filter((earlier) => earlier !== text)].slice(0, recentSearches)
  return { ...session, updatedAt: Math.max(now, session.updatedAt), searches: session.searches + 1, recent }
}

/** Whether `value` has the shape of a session (what memcache or the database handed back). */
export function isSession(value: unknown): value is Session {
  if (value === null || typeof value !== 'object') return false
  const { id, createdAt, updatedAt, searches, recent } = value as Partial<Session>
  return (
    typeof id === 'string' &&
    idPattern.test(id) &&
    Number.isFinite(createdAt) &&
    Number.isFinite(updatedAt) &&
    Number.isInteger(searches) &&
    Array.isArray(recent) &&
    recent.every((text) => typeof text === 'string')
  )
}

/** Signs and checks session cookies with one secret; see {@link sessionCookies}. */
export interface SessionCookies {
  /**
   * The session id named by the request's `Cookie` header, or undefined when it has no session
   * cookie. Throws a 400 {@link BadRequest} (`INVALID_SESSION_COOKIE`) for a cookie this service did not sign.
   */
  sessionId(cookieHeader: string | undefined): string | undefined
  /** The `Set-Cookie` value naming session `id`: HttpOnly, SameSite=Lax, Secure over HTTPS. */
  setCookie(id: string, options: { secure: boolean }): string
}

/**
 * Session cookies signed with `secret` (HMAC-SHA256).
 */
export function sessionCookies(secret: string): SessionCookies {
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new TypeError('sessionCookies(): secret must be a string of at least 32 characters')
  }
  const mac = (id: string): string => createHmac('sha256', secret).update(id).digest('base64url')
  return {
    sessionId(cookieHeader) {
      const value = cookieValue(cookieHeader, sessionCookieName)
      if (value === undefined) return undefined
      const dot = value.indexOf('.')
      const id = value.slice(0, dot)
      const macText = value.slice(dot + 1)
      // The MAC's text is compared, not its decoded bytes: base64 decoders skip characters they do not
      // know and ignore the last character's spare bits, so several texts decode to the same MAC.
      if (
        dot < 0 ||
        !idPattern.test(id) ||
        !macPattern.test(macText) ||
        !timingSafeEqual(Buffer.from(macText), Buffer.from(mac(id)))
      ) {
        throw new BadRequest('INVALID_SESSION_COOKIE', 'the session cookie is not one this service signed')
      }
      return id
    },
    setCookie(id, { secure }) {
      if (!idPattern.test(id)) throw new TypeError(`setCookie(): not a session id: ${JSON.stringify(id)}`)
      const value = `${id}.${mac(id)}`
      return `${sessionCookieName}=${value}; Path=/; Max-Age=${cookieMaxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
    },
  }
}

/** The value of the first cookie called `name` in a `Cookie` header (RFC 6265: `a=1; b=2`). */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=')
    if (equals > 0 && pair.slice(0, equals).trim() === name) return pair.slice(equals + 1).trim()
  }
  return undefined
}
