// The trace pages in a real browser: Debian's chromium driven by playwright-core (never a downloaded
// browser). A visitor searches on the search page, follows the answer's link to its trace, and the
// waterfall shows the pipeline's steps, running in parallel on rows of their own, with the critical
// path marked and drawn apart. Screenshots go to test-artifacts/ (git-ignored).
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { embeddedDatabase } from 'weft/sql'
import { lisbonVisitor, loadTestData } from '../fixtures.ts'
import { startService } from '../support.ts'

const artifacts = join(import.meta.dirname, '..', '..', '..', 'test-artifacts')

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    // playwright's own temporary profile: a fresh user data dir each run.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 15_000,
  })
}

/** Where each row's bar is on screen, by span name (the first row of that name). */
async function bars(page: Page, names: readonly string[]) {
  const all = await page.$$eval('tr[data-span-name]', (rows) =>
    rows.map((row) => {
      const box = row.querySelector('.bar')?.getBoundingClientRect()
      return { name: row.getAttribute('data-span-name'), left: box?.left, right: box?.right, top: box?.top }
    }),
  )
  const found = new Map<string, { left: number; right: number; top: number }>()
  for (const { name, left, right, top } of all) {
    if (name !== null && names.includes(name) && !found.has(name) && left !== undefined) {
      found.set(name, { left, right: right as number, top: top as number })
    }
  }
  return found
}

/** The computed background colour of the element `selector` finds first. */
function background(page: Page, selector: string): Promise<string> {
  return page
    .locator(selector)
    .first()
    .evaluate((element) => element.ownerDocument.defaultView?.getComputedStyle(element).backgroundColor ?? '')
}

test('search, follow the answer to its trace, and read the waterfall', { timeout: 60_000 }, async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({ db, worker: false })
  const browser = await launch()
  try {
    const context = await browser.newContext({
      viewport: { width: 1600, height: 1000 },
      // The service trusts one proxy: the visitor is in Lisbon, and reads Portuguese.
      extraHTTPHeaders: { 'x-forwarded-for': lisbonVisitor, 'accept-language': 'pt-PT,pt;q=0.9' },
    })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => {
      // The browser asks for /favicon.ico on its own; the service has none.
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) {
        problems.push(`${message.text()} (${message.location().url})`)
      }
    })
    page.on('pageerror', (error) => problems.push(error.message))

    await page.goto(`${service.url}/`)
    await page.fill('#q', 'lisb')
    const link = page.locator('#trace-link')
    await link.waitFor({ timeout: 10_000 })
    assert.match((await link.getAttribute('href')) ?? '', /^\/_weft\/traces\/[0-9a-f]{32}$/)
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: join(artifacts, 'search-page.png') })
    await Promise.all([page.waitForURL(/\/_weft\/traces\/[0-9a-f]{32}$/), link.click()])
    await page.locator('table.waterfall').waitFor()

    const names = await page.$$eval('tr[data-span-name]', (rows) =>
      rows.map((row) => row.getAttribute('data-span-name')),
    )
    for (const step of [
      'GET /search',
      'geocode',
      'rate limits',
      'session',
      'query text',
      'query nearby',
      'finish',
    ]) {
      assert.ok(names.includes(step), `the waterfall shows "${step}"`)
    }

    // The first steps run at once: their bars overlap in time, each on a row of its own.
    const steps = await bars(page, ['geocode', 'rate limits', 'session', 'query text', 'query country'])
    const overlapping: string[] = []
    const entries = [...steps]
    for (const [i, [a, boxA]] of entries.entries()) {
      for (const [b, boxB] of entries.slice(i + 1)) {
        if (boxA.left < boxB.right && boxB.left < boxA.right && boxA.top !== boxB.top)
          overlapping.push(`${a} ∥ ${b}`)
      }
    }
    assert.ok(
      overlapping.length >= 2,
      `steps running in parallel, on separate rows: ${overlapping.join(', ')}`,
    )
    const lanes = await page.$$eval(
      'tr[data-span-name="rate limits"], tr[data-span-name="session"]',
      (rows) => rows.map((row) => row.getAttribute('data-lane')),
    )
    assert.notEqual(lanes[0], lanes[1], 'in different lanes')

    // The critical path: marked, and drawn in another colour than the rest.
    const critical = page.locator('tr[data-critical="true"]')
    assert.ok((await critical.count()) >= 3, 'the critical path runs from the request down to a backend call')
    assert.equal(await page.locator('tr[data-critical="true"]:not(.critical)').count(), 0)
    const onPath = await background(page, 'tr[data-critical="true"] .bar')
    const offPath = await background(page, 'tr[data-critical="false"] .bar')
    assert.notEqual(onPath, offPath, `critical ${onPath}, others ${offPath}`)
    const legend = await background(page, '.legend .swatch.critical')
    assert.equal(legend, onPath, 'the legend says which colour is the critical path')
    assert.match((await page.locator('.legend').textContent()) ?? '', /critical path/)
    assert.match(
      (await page.locator('tr[data-critical="false"] td.num').nth(1).textContent()) ?? '',
      /ms$/,
      'slack shown',
    )

    await page.screenshot({ path: join(artifacts, 'trace-waterfall.png') })

    // The page's script runs under its Content-Security-Policy: a span's ▾ folds the spans under it,
    // and "only the critical path" hides the rest.
    const limiter = page.locator('tr[data-span-name="limiter ip"]').first()
    assert.equal(await limiter.isVisible(), true)
    const fold = page.locator('tr[data-span-name="rate limits"]').first().locator('button.fold')
    await fold.click()
    assert.equal(await limiter.isVisible(), false, 'folded away')
    await fold.click()
    assert.equal(await limiter.isVisible(), true, 'unfolded')
    await page.check('#critical-only')
    assert.equal(await page.locator('tr[data-critical="false"]').first().isVisible(), false)
    assert.equal(await critical.first().isVisible(), true)
    await page.screenshot({ path: join(artifacts, 'trace-critical-path.png') })
    assert.deepEqual(problems, [], 'no script error, no policy violation')
  } finally {
    await browser.close()
  }
})

test('a search that was not traced (over TRACE_RECORD_PER_SECOND) answers with no trace link', {
  timeout: 60_000,
}, async () => {
  await using db = embeddedDatabase()
  await loadTestData(db)
  await using service = await startService({ db, worker: false, env: { TRACE_RECORD_PER_SECOND: '0' } })
  const browser = await launch()
  try {
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': lisbonVisitor } })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    await page.goto(`${service.url}/`)
    await page.fill('#q', 'lisb')
    await page.locator('#results li').first().waitFor({ timeout: 10_000 })
    assert.match((await page.locator('#meta').textContent()) ?? '', /^You are near/)
    assert.equal(await page.locator('#trace-link').count(), 0)
    assert.deepEqual(problems, [])
  } finally {
    await browser.close()
  }
})
