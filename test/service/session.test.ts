import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { afterSearch, isSession, newSession, sessionCookies } from '../../service/session.ts'

const cookies = sessionCookies('a secret of at least thirty-two characters')

describe('session cookies', () => {
  test('name the session in a signed, HttpOnly, SameSite=Lax cookie, Secure over HTTPS', () => {
    const { id } = newSession(0)
    const header = cookies.setCookie(id, { secure: false })
    assert.match(
      header,
      new RegExp(`^sid=${id}\\.[\\w-]{43}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax$`),
    )
    assert.match(cookies.setCookie(id, { secure: true }), /; SameSite=Lax; Secure$/)
    assert.equal(cookies.sessionId(header.split(';')[0]), id)
  })

  test('find the session cookie among others, and nothing without one', () => {
    const { id } = newSession(0)
    const cookie = cookies.setCookie(id, { secure: false }).split(';')[0]
    assert.equal(cookies.sessionId(`theme=dark; ${cookie}; lang=pt`), id)
    assert.equal(cookies.sessionId(undefined), undefined)
    assert.equal(cookies.sessionId('theme=dark'), undefined)
    assert.equal(cookies.sessionId(''), undefined)
  })

  test('refuse a cookie signed with another secret, and a secret under 32 characters', () => {
    const { id } = newSession(0)
    const other = sessionCookies('another secret of thirty-two chars!!').setCookie(id, { secure: false })
    assert.throws(() => cookies.sessionId(other.split(';')[0]), {
      code: 'INVALID_SESSION_COOKIE',
      status: 400,
    })
    assert.throws(() => sessionCookies('short'), TypeError)
    assert.throws(() => cookies.setCookie('not an id', { secure: false }), TypeError)
  })
})

describe('sessions', () => {
  test('are created empty with 128 random bits of id', () => {
    const a = newSession(1000)
    const b = newSession(1000)
    assert.match(a.id, /^[\w-]{22}$/)
    assert.notEqual(a.id, b.id)
    assert.deepEqual({ ...a, id: '' }, { id: '', createdAt: 1000, updatedAt: 1000, searches: 0, recent: [] })
    assert.ok(isSession(a))
  })

  test('count searches and keep the five most recent texts, without repeats', () => {
    let session = newSession(0)
    for (const [i, text] of ['a', 'b', 'c', 'a', 'd', 'e', 'f'].entries())
      session = afterSearch(session, text, i + 1)
    assert.equal(session.searches, 7)
    assert.deepEqual(session.recent, ['f', 'e', 'd', 'a', 'c'])
    assert.equal(session.updatedAt, 7)
    assert.equal(afterSearch(session, 'g', 3).updatedAt, 7, 'time never goes back')
  })

  test('are told from other values', () => {
    for (const value of [null, 1, {}, { ...newSession(0), id: 'x' }, { ...newSession(0), recent: [1] }]) {
      assert.equal(isSession(value), false)
    }
  })
})
