/** An injected monotonic clock (a cache's `now`): time moves only when a test says so. */
export function manualClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}
