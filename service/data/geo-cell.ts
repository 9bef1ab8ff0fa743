/**
 * A coarse spatial index that plain SQL can use: the globe cut into 1-degree cells, each numbered by an
 * integer. The loader stores every city's cell, and "places near here" becomes an indexed
 * `geo_cell = ANY($1)` over the cell of the point and its neighbours. The loader and the queries share
 * this one function, so the numbering cannot drift between what was stored and what is asked.
 */

import { checkWholeNumber } from './checks.ts'

const rows = 180
const columns = 360

/**
 * The cell containing the point. Latitude must be within [-90, 90]; longitude may be any finite
 * number and wraps around (181 is -179). Cells are numbered row by row from the south-west, so every
 * cell is a non-negative integer below 180 * 360.
 */
export function geoCell(lat: number, lon: number): number {
  return cellAt(row(lat), column(lon))
}

/**
 * The cells within `rings` cells of the point's own cell, that cell included: with the default of 1,
 * the 3 x 3 block around it (about 330 km across at the equator). Longitude wraps across the
 * antimeridian; rows stop at the poles.
 */
export function nearbyCells(lat: number, lon: number, rings = 1): number[] {
  checkWholeNumber('nearbyCells', 'rings', rings, 0, 90)
  const centreRow = row(lat)
  const centreColumn = column(lon)
  const cells = new Set<number>()
  for (let r = Math.max(0, centreRow - rings); r <= Math.min(rows - 1, centreRow + rings); r++) {
    for (let c = centreColumn - rings; c <= centreColumn + rings; c++) {
      cells.add(cellAt(r, ((c % columns) + columns) % columns))
    }
  }
  return [...cells].sort((a, b) => a - b)
}

function row(lat: number): number {
  if (typeof lat !== 'number' || !(lat >= -90 && lat <= 90)) {
    throw new TypeError(`geoCell: latitude must be a number from -90 to 90, got ${String(lat)}`)
  }
  // The North Pole itself belongs to the last row rather than to a row of its own.
  return Math.min(rows - 1, Math.floor(lat) + 90)
}

function column(lon: number): number {
  if (typeof lon !== 'number' || !Number.isFinite(lon)) {
    throw new TypeError(`geoCell: longitude must be a finite number, got ${String(lon)}`)
  }
  const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180
  return Math.floor(wrapped) + 180
}

function cellAt(r: number, c: number): number {
  return r * columns + c
}
