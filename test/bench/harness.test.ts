// The benchmarks' statistics: the interval they give a median ratio must hold it as often as it says.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom } from 'weft/testing'
import { medianInterval } from '../../bench/harness.ts'

const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

test('the interval of a median runs between the order statistics the binomial distribution gives', () => {
  // n = 31: P(Binomial(31, 1/2) <= 9) = 1.5%, <= 10 = 3.5%: from the 10th value to the 22nd.
  assert.deepEqual(medianInterval(ranks(31)), [10, 22])
  assert.deepEqual(medianInterval(ranks(10)), [2, 9])
  assert.deepEqual(medianInterval(ranks(6)), [1, 6])
  // Order does not matter.
  assert.deepEqual(medianInterval(ranks(31).toReversed()), [10, 22])
})

test('too few values for 95% confidence give no interval', () => {
  assert.deepEqual(medianInterval(ranks(5)), [Number.NaN, Number.NaN])
  assert.deepEqual(medianInterval([]), [Number.NaN, Number.NaN])
})

test('over many samples, the interval holds the median of their population at least 95% of the time', () => {
  // A skewed population (exponential, median ln 2), drawn from a seeded generator: the same draws
  // every run.
  const uniform = seededRandom(42)
  const median = Math.LN2
  let held = 0
  const samples = 2_000
  for (let i = 0; i < samples; i++) {
    const values = Array.from({ length: 31 }, () => -Math.log(1 - uniform()))
    const [low, high] = medianInterval(values)
    if (low <= median && median <= high) held += 1
  }
  assert.ok(held / samples >= 0.95, `held ${held} of ${samples}`)
})
