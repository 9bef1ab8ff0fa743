import assert from 'node:assert/strict'
import { test } from 'node:test'
import { searchKey } from '../../../service/data/search-key.ts'

test('lower-cases and removes accents, so what people type matches the name', () => {
  assert.equal(searchKey('São Paulo'), 'sao paulo')
  assert.equal(searchKey('LISBOA'), 'lisboa')
  assert.equal(searchKey('Sant Julià de Lòria'), 'sant julia de loria')
  assert.equal(searchKey('Ærøskøbing'), 'aeroskobing')
})

test('folds the letters Unicode does not decompose to their ASCII look-alikes', () => {
  assert.equal(searchKey('Łódź'), 'lodz')
  assert.equal(searchKey('Straße'), 'strasse')
  assert.equal(searchKey('Đà Nẵng'), 'da nang')
})

test('collapses and trims white space', () => {
  assert.equal(searchKey('  New \t  York '), 'new york')
})

test('is idempotent', () => {
  for (const name of ['São Paulo', 'Łódź', 'Ærøskøbing', 'Reykjavík']) {
    assert.equal(searchKey(searchKey(name)), searchKey(name))
  }
})
