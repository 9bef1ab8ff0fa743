/**
 * The clean stop of the service's processes (the search server, the worker, the geocoder): on
 * SIGINT or SIGTERM, run the steps in turn (close the server, the backends, flush the trace export),
 * then exit 0, or print the error and exit 1.
 *
 * Install it before the process announces itself: whoever reads that line may signal at once, and a
 * signal with no listener yet kills the process on the spot, skipping the clean stop.
 */
export function stopCleanlyOnSignal(steps: readonly (() => Promise<unknown> | undefined)[]): void {
  const stop = async () => {
    for (const step of steps) await step()
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error)
          process.exit(1)
        },
      )
    })
  }
}
