// Scenario 7: HTTP fuzzing. fast-check builds raw HTTP requests (odd methods and versions, query
// strings with invalid UTF-8 and raw bytes, odd headers and cookies, bodies up to 3 MB, framing that
// lies) and sends each over a socket of its own to the running service. Every answer must be a 2xx,
// a 4xx, or an intended 503 (a limit, a backend); the service must keep answering (a health probe
// every few requests); and nothing may reach 'unhandledRejection' or 'uncaughtException'.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { type FaultService, since, startFaultService } from './in-process.ts'
import { reportScenario, StatusTally } from './report.ts'

const numRuns = 2000
/** A request the service neither answers nor closes within this many ms counts as hanging. */
const answerTimeout = 10_000

const percentEncode = (bytes: Uint8Array) =>
  [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
const utf8 = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).map((s) => Buffer.from(s))
const raw = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b))
const ascii = (text: string) => Buffer.from(text, 'latin1')
const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/)

const wellFormedMethod = fc.constantFrom(
  'GET',
  'GET',
  'GET',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
)
const method = fc.oneof(
  { weight: 6, arbitrary: wellFormedMethod },
  { weight: 1, arbitrary: fc.constantFrom('TRACE', 'CONNECT', 'PROPFIND', 'PATCH', 'get', 'GET GET', '') },
  { weight: 1, arbitrary: token },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
)

const path = fc.constantFrom(
  '/search',
  '/search',
  '/search',
  '/',
  '/healthz',
  '/_weft/traces/0123456789abcdef0123456789abcdef',
  '/_weft/traces/%ZZ',
  '/search/',
  '//search',
  '/nowhere',
  '/%',
  '/search%00',
  '*',
  'http://127.0.0.1/search',
  '',
)

const queryKey = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('q', 'limit') },
  { weight: 1, arbitrary: fc.constantFrom('q[]', 'q[a]', '__proto__', 'constructor', '', 'Q', 'limit[]') },
  { weight: 1, arbitrary: token },
)

const percentEncodedValue = [
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(
        'lisb',
        'porto',
        'a',
        '',
        '+',
        'S%C3%A3o',
        '%',
        '%zz',
        '%C3%28',
        '%FF%FE',
        '%E2%82',
        '%00',
        '%0A%0D',
        '%ED%A0%80',
        'x'.repeat(201),
        '1',
        '0',
        '50',
        '51',
        '-1',
        '1e3',
        '0x10',
        '007',
        '%2010',
      )
      .map(ascii),
  },
  { weight: 2, arbitrary: utf8(30).map((b) => ascii(percentEncode(b))) },
  { weight: 2, arbitrary: raw(20).map((b) => ascii(percentEncode(b))) }, // invalid UTF-8, percent-encoded
]
const wellFormedQueryValue = fc.oneof(...percentEncodedValue)
const queryValue = fc.oneof(...percentEncodedValue, { weight: 1, arbitrary: raw(10) }) // raw bytes in the request line

const queryString = (value: fc.Arbitrary<Buffer>) =>
  fc
    .array(fc.tuple(queryKey, value, fc.constantFrom('=', '=', '', '==')), { maxLength: 5 })
    .chain((pairs) =>
      fc
        .constantFrom('&', '&&', ';')
        .map((separator) =>
          pairs.length === 0
            ? Buffer.alloc(0)
            : Buffer.concat([
                ascii('?'),
                ...pairs.flatMap(([key, value, equals], i) => [
                  ascii(i === 0 ? '' : separator),
                  ascii(key),
                  ascii(equals),
                  value,
                ]),
              ]),
        ),
    )

// The headers whose values the service reads; the framing ones (which node's parser checks) apart.
const serviceHeaderName = fc.constantFrom(
  'cookie',
  'cookie',
  'x-forwarded-for',
  'x-forwarded-for',
  'accept-language',
  'weft-timeout-ms',
  'traceparent',
  'tracestate',
  'content-type',
  'accept',
  'accept-encoding',
  'range',
  'forwarded',
  'origin',
)
const knownHeaderName = fc.constantFrom(
  'cookie',
  'x-forwarded-for',
  'accept-language',
  'weft-timeout-ms',
  'traceparent',
  'tracestate',
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'expect',
  'accept',
  'accept-encoding',
  'range',
  'forwarded',
  'origin',
)
const headerName = fc.oneof(
  { weight: 5, arbitrary: knownHeaderName },
  { weight: 1, arbitrary: token },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 10 }) },
)

const sampleHeaderValue = fc
  .constantFrom(
    'sid=abc',
    'sid=abc.def',
    'sid=',
    'sid=a; sid=b',
    '=; ;;=',
    '203.0.113.7',
    '203.0.113.7, 10.0.0.1',
    '::1',
    '::ffff:1.2.3.4',
    '999.1.1.1',
    'unknown',
    ',',
    'pt-PT,pt;q=0.9,en;q=0.8',
    '*;q=2',
    'xx-YY-ZZ-AA;q=-1',
    '0',
    '-5',
    '1e9',
    '99999999999999999999',
    'NaN',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-zz-zz-zz',
    'application/json',
    'text/plain; charset=latin1',
    'multipart/form-data; boundary=x',
    'chunked',
    'gzip, chunked',
    '100-continue',
    'bytes=0-1',
    '127.0.0.1',
    '',
  )
  .map(ascii)
const allowedInHeader = (code: number) => code === 9 || (code >= 0x20 && code !== 0x7f)
// What HTTP allows in a header value (no control characters but tab), in UTF-8 or Latin-1 bytes.
const allowedHeaderValue = fc.oneof(
  fc
    .string({ unit: 'binary', maxLength: 40 })
    .map((s) => Buffer.from([...s].filter((c) => allowedInHeader(c.codePointAt(0) as number)).join(''))),
  raw(40).map((b) => Buffer.from(b.filter(allowedInHeader))),
)
const headerValue = fc.oneof(
  { weight: 4, arbitrary: sampleHeaderValue },
  { weight: 2, arbitrary: allowedHeaderValue },
  { weight: 1, arbitrary: utf8(40) },
  { weight: 2, arbitrary: raw(40) }, // latin1, invalid UTF-8, control characters, CR and LF included
  { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 40_000 }).map((n) => ascii('a'.repeat(n))) },
)

const body = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.oneof(utf8(200), raw(200), fc.constant(ascii('{"q": "lisb"}'))) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000_000, max: 3_000_000 }).map((n) => Buffer.alloc(n, 0x7b)) },
)

/** The parts of a request that HTTP's grammar allows, with anything in them: what reaches the routes. */
const wellFormed = fc.record({
  method: wellFormedMethod,
  path: fc.constantFrom('/search', '/search', '/search', '/', '/healthz', '/nowhere'),
  query: fc
    .tuple(wellFormedQueryValue, queryString(wellFormedQueryValue))
    .map(([q, rest]) =>
      Buffer.concat([ascii('?q='), q, rest.length > 0 ? ascii('&') : rest, rest.subarray(1)]),
    ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
  headers: fc.array(fc.tuple(serviceHeaderName, fc.oneof(sampleHeaderValue, allowedHeaderValue)), {
    maxLength: 4,
  }),
  body,
  framing: fc.constantFrom('content-length', 'chunked'),
})

/** Anything in any part: what node's HTTP parser must refuse cleanly. */
const chaotic = fc.record({
  method,
  path,
  query: queryString(queryValue),
  version: fc.constantFrom(
    'HTTP/1.1',
    'HTTP/1.1',
    'HTTP/1.1',
    'HTTP/1.0',
    'HTTP/2.0',
    'HTTP/0.9',
    'http/1.1',
  ),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
  body,
  framing: fc.constantFrom('content-length', 'content-length', 'chunked', 'none', 'short'),
})

/** A whole request, as bytes; `Connection: close` ends it, so the server closes once it has answered. */
const httpRequest = fc
  .oneof({ weight: 3, arbitrary: wellFormed }, { weight: 1, arbitrary: chaotic })
  .map(({ method, path, query, version, headers, body, framing }) => {
    const lines: Buffer[] = [
      Buffer.concat([Buffer.from(method), ascii(` ${path}`), query, ascii(` ${version}`)]),
    ]
    lines.push(ascii('host: 127.0.0.1'))
    for (const [name, value] of headers) lines.push(Buffer.concat([Buffer.from(name), ascii(': '), value]))
    let payload = Buffer.alloc(0)
    if (body !== undefined) {
      if (framing === 'content-length') lines.push(ascii(`content-length: ${body.length}`))
      if (framing === 'short') lines.push(ascii(`content-length: ${Math.max(0, body.length - 1)}`))
      if (framing === 'chunked') lines.push(ascii('transfer-encoding: chunked'))
      payload =
        framing === 'chunked'
          ? Buffer.concat([ascii(`${body.length.toString(16)}\r\n`), body, ascii('\r\n0\r\n\r\n')])
          : body
    }
    lines.push(ascii('connection: close'))
    return Buffer.concat([...lines.flatMap((line) => [line, ascii('\r\n')]), ascii('\r\n'), payload])
  })

/**
 * Sends `bytes` on a connection of its own and reads until the server closes it. The final status
 * (the first one not 1xx), `closed` when the server closed without answering, `hung` when it did
 * neither within {@link answerTimeout}.
 */
function exchange(
  port: number,
  bytes: Buffer,
): Promise<{ status: number | 'closed' | 'hung'; text: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1')
    const timer = setTimeout(() => finish('hung'), answerTimeout)
    const finish = (outcome?: 'hung') => {
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const statuses = [...text.matchAll(/^HTTP\/1\.[01] (\d{3}) /gm)].map((m) => Number(m[1]))
      const final = statuses.find((status) => status >= 200)
      resolve({ status: final ?? outcome ?? 'closed', text })
    }
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', () => finish())
    // The server may answer and close before it read a large body: our write then fails, which is fine.
    socket.on('error', () => {})
    // Not end(): node's server takes a half-closed connection for a client gone, and drops the request.
    socket.write(bytes)
  })
}

/** 503s the service means: over a limit, a backend it cannot do without, a request cancelled. */
const intended503 = /"code":"(RATE_LIMITED|BACKEND_UNAVAILABLE|CANCELLED)"/

/**
 * Whether an answer is one the service means: a 2xx or 4xx, an {@link intended503}, or the 504 of a
 * caller that gave its own deadline (`weft-timeout-ms`, as small as 0) and had it pass.
 */
function intended(status: number, answer: string, request: Buffer): boolean {
  if ((status >= 200 && status < 300) || (status >= 400 && status < 500)) return true
  // The answer to a HEAD has no body to tell the code: the 503s the service means carry Retry-After.
  const head = request.toString('latin1', 0, 5) === 'HEAD '
  if (status === 503) return head ? /^retry-after: \d+/im.test(answer) : intended503.test(answer)
  const ownDeadline = /^weft-timeout-ms:/im.test(request.toString('latin1'))
  return status === 504 && ownDeadline && (head || answer.includes('"code":"WEFT_DEADLINE_EXCEEDED"'))
}

let running: FaultService
const troubles: { event: string; error: unknown }[] = []
const onRejection = (error: unknown) => troubles.push({ event: 'unhandledRejection', error })
const onException = (error: unknown) => troubles.push({ event: 'uncaughtException', error })

before(async () => {
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  running = await startFaultService({
    env: { RATE_LIMITS: 'ip=1000000,network=1000000,asn=1000000,global=1000000' },
  })
})

after(async () => {
  await running?.close()
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
})

test('fuzzed HTTP requests: only 2xx, 4xx or intended 503s; the service keeps answering; nothing unhandled', async () => {
  const port = Number(new URL(running.url).port)
  const tally = new StatusTally()
  const other: Record<string, number> = {}
  const codes: Record<string, number> = {}
  let probes = 0
  const probe = async () => {
    probes += 1
    const answer = await fetch(`${running.url}/healthz`)
    assert.equal(answer.status, 200)
    await answer.body?.cancel()
  }
  const started = performance.now()
  // A new seed each run, to explore; a failure prints it, and FUZZ_SEED=<seed> replays that run.
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
  let run = 0
  await fc.assert(
    fc.asyncProperty(httpRequest, async (bytes) => {
      const { status, text } = await exchange(port, bytes)
      if (status === 'closed' && process.env.FUZZ_DEBUG)
        console.log(JSON.stringify(bytes.subarray(0, 300).toString('latin1')), bytes.length)
      if (typeof status === 'number') tally.record(status)
      else other[status] = (other[status] ?? 0) + 1
      const code = /"code":"([A-Z_0-9]+)"/.exec(text)?.[1] ?? (typeof status === 'number' ? 'none' : status)
      codes[`${status} ${code}`] = (codes[`${status} ${code}`] ?? 0) + 1
      if (++run % 20 === 0) await probe()
      assert.notEqual(status, 'hung', 'the service neither answered nor closed the connection')
      assert.notEqual(status, 'closed', 'the service closed the connection without answering')
      if (typeof status === 'number')
        assert.ok(intended(status, text, bytes), `answered ${text.slice(0, 600)}`)
      assert.deepEqual(troubles, [])
    }),
    { numRuns, seed },
  )
  await probe()
  await reportScenario('HTTP fuzzing', {
    requests: run,
    statuses: { ...tally.statuses, ...other },
    codes,
    healthProbes: probes,
    unhandled: troubles.length,
    seed,
    durationMs: Math.round(since(started)),
  })
  assert.deepEqual(troubles, [])
})
