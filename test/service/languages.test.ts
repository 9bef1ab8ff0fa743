import assert from 'node:assert/strict'
import { test } from 'node:test'
import { acceptedLanguages, countriesSpeaking, languageName } from '../../service/languages.ts'

test('Accept-Language gives the known primary languages, best first, at most three', () => {
  assert.deepEqual(acceptedLanguages('pt-PT,pt;q=0.9,en;q=0.8'), ['pt', 'en'])
  assert.deepEqual(acceptedLanguages('en;q=0.5, fr-CA, de;q=0.7'), ['fr', 'de', 'en'])
  assert.deepEqual(acceptedLanguages('es, it, nl, ja'), ['es', 'it', 'nl'])
  assert.deepEqual(acceptedLanguages('DE-de'), ['de'])
})

test('entries that do not parse, *, unknown languages and q=0 are skipped; so is a huge header', () => {
  assert.deepEqual(acceptedLanguages(undefined), [])
  assert.deepEqual(acceptedLanguages('*, xx, en;q=0, fr;q=2, ;;, pt;q=0.1'), ['pt'])
  assert.deepEqual(acceptedLanguages(`${'en,'.repeat(500)}`), [])
})

test('each language has its countries and an English name', () => {
  assert.ok(countriesSpeaking('pt').includes('BR'))
  assert.deepEqual(countriesSpeaking('xx'), [])
  assert.equal(languageName('pt'), 'Portuguese')
})
