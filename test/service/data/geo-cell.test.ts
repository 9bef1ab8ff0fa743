import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { geoCell, nearbyCells } from '../../../service/data/geo-cell.ts'

const latitude = fc.double({ min: -90, max: 90, noNaN: true })
const longitude = fc.double({ min: -1000, max: 1000, noNaN: true })

describe('geoCell', () => {
  test('numbers 1-degree cells row by row from the south-west corner', () => {
    assert.equal(geoCell(-90, -180), 0)
    assert.equal(geoCell(-90, -178.5), 1)
    assert.equal(geoCell(-89, -180), 360)
    assert.equal(geoCell(38.72, -9.14), (38 + 90) * 360 + (-10 + 180))
  })

  test('points in the same 1-degree square share a cell; across a degree line they do not', () => {
    assert.equal(geoCell(38.01, -9.99), geoCell(38.99, -9.01))
    assert.notEqual(geoCell(38.99, -9.5), geoCell(39.01, -9.5))
    assert.notEqual(geoCell(38.5, -9.01), geoCell(38.5, -8.99))
  })

  test('wraps longitude around the globe', () => {
    assert.equal(geoCell(10, 180), geoCell(10, -180))
    assert.equal(geoCell(10, 181.5), geoCell(10, -178.5))
    assert.equal(geoCell(10, -540), geoCell(10, 180))
  })

  test('puts the North Pole in the last row', () => {
    assert.equal(geoCell(90, 0), geoCell(89.5, 0))
  })

  test('every point gets a cell from 0 to 180 * 360 - 1', () => {
    fc.assert(
      fc.property(latitude, longitude, (lat, lon) => {
        const cell = geoCell(lat, lon)
        return Number.isInteger(cell) && cell >= 0 && cell < 180 * 360
      }),
    )
  })
})

describe('nearbyCells', () => {
  test("is the point's cell and the 8 around it", () => {
    const centre = geoCell(38.72, -9.14)
    assert.deepEqual(nearbyCells(38.72, -9.14), [
      centre - 361,
      centre - 360,
      centre - 359,
      centre - 1,
      centre,
      centre + 1,
      centre + 359,
      centre + 360,
      centre + 361,
    ])
  })

  test('holds the cell of every point less than a degree away, whatever the point', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -88.9, max: 88.9, noNaN: true }),
        longitude,
        fc.double({ min: -0.99, max: 0.99, noNaN: true }),
        fc.double({ min: -0.99, max: 0.99, noNaN: true }),
        (lat, lon, dLat, dLon) => nearbyCells(lat, lon).includes(geoCell(lat + dLat, lon + dLon)),
      ),
    )
  })

  test('crosses the antimeridian', () => {
    assert.ok(nearbyCells(0.5, 179.5).includes(geoCell(0.5, -179.5)))
    assert.ok(nearbyCells(0.5, -179.5).includes(geoCell(0.5, 179.5)))
  })

  test('stops at the poles instead of wrapping over them', () => {
    assert.equal(nearbyCells(89.5, 0).length, 6)
    assert.equal(nearbyCells(-89.5, 0).length, 6)
  })

  test('with 0 rings is the cell alone; with 2 rings a 5 x 5 block', () => {
    assert.deepEqual(nearbyCells(1.5, 1.5, 0), [geoCell(1.5, 1.5)])
    assert.equal(nearbyCells(1.5, 1.5, 2).length, 25)
  })
})
