import assert from 'node:assert/strict'
import { test } from 'node:test'
import { geoCell, nearbyCells } from '../../../service/data/geo-cell.ts'

test('a latitude outside [-90, 90], NaN or not a number is a TypeError naming it', () => {
  for (const lat of [90.0001, -91, Number.NaN, Number.POSITIVE_INFINITY, '38' as unknown as number]) {
    assert.throws(() => geoCell(lat, 0), {
      name: 'TypeError',
      message: /latitude must be a number from -90 to 90/,
    })
  }
})

test('a longitude that is not a finite number is a TypeError naming it', () => {
  for (const lon of [Number.NaN, Number.NEGATIVE_INFINITY, undefined as unknown as number]) {
    assert.throws(() => geoCell(0, lon), { name: 'TypeError', message: /longitude must be a finite number/ })
  }
})

test('rings must be a whole number from 0 to 90', () => {
  for (const rings of [-1, 1.5, 91, Number.NaN]) {
    assert.throws(() => nearbyCells(0, 0, rings), {
      name: 'TypeError',
      message: /rings must be a whole number/,
    })
  }
})
