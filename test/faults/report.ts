/**
 * The figures of the fault suite: each scenario records what it measured under its own name in
 * `bench/results/faults.json`, so one file tells what the service did under every fault. The suite's
 * files run one at a time (`--test-concurrency=1`), so a read-merge-write per scenario is safe.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** What every scenario reports; each adds figures of its own. */
export interface ScenarioFigures {
  /** Requests sent to the service during the scenario. */
  requests: number
  /** Answers by HTTP status (`"200": 1234`), with `"error"` for requests that got no answer at all. */
  statuses: Record<string, number>
  /** Queued tasks, where the scenario enqueues any. */
  tasks?: { accepted: number; processed: number; lost: number }
  /** Milliseconds from the fault's end until the service answered as before it, where it recovers. */
  recoveryMs?: number
  [figure: string]: unknown
}

export const faultsFile = join(import.meta.dirname, '..', '..', 'bench', 'results', 'faults.json')

/** Merges one scenario's figures into {@link faultsFile}, stamped with the time they were taken. */
export async function reportScenario(name: string, figures: ScenarioFigures): Promise<void> {
  let all: Record<string, unknown> = {}
  try {
    all = JSON.parse(await readFile(faultsFile, 'utf8')) as Record<string, unknown>
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  all[name] = { ...figures, measuredAt: new Date().toISOString() }
  await mkdir(dirname(faultsFile), { recursive: true })
  await writeFile(faultsFile, `${JSON.stringify(all, null, 2)}\n`)
}

/** Counts answers by status while a scenario runs. */
export class StatusTally {
  readonly statuses: Record<string, number> = {}
  requests = 0

  /** Records one answer's status, or `'error'` when the request got none. */
  record(status: number | 'error'): void {
    this.requests += 1
    this.statuses[status] = (this.statuses[status] ?? 0) + 1
  }

  /** How many answers had a status for which `accept` is false. */
  count(accept: (status: number | 'error') => boolean): number {
    let n = 0
    for (const [status, times] of Object.entries(this.statuses)) {
      if (!accept(status === 'error' ? 'error' : Number(status))) n += times
    }
    return n
  }
}
