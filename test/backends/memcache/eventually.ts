import { systemClock } from 'weft'

/**
 * Polls `check` every 10 ms (real time) until it returns without throwing, and returns its result;
 * past `within` ms, throws its last error. For conditions that depend on real processes and sockets
 * (a killed server noticed, a restarted one used again), where there is no event to wait on.
 */
export async function eventually<T>(check: () => T | Promise<T>, within = 3000): Promise<T> {
  const giveUp = systemClock.now() + within
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (systemClock.now() > giveUp) throw error
    }
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 10))
  }
}
