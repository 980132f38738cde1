/**
 * Caller loops, as the expiry scenarios run them: each loop calls, records the call's latency,
 * pauses 1 ms (setTimeout) and calls again until the window ends. A call that throws is counted
 * as an error (its latency is recorded too) and the loop goes on.
 */
import { lowerBound, percentile, sleep } from './stats.js';

export interface LoopOptions<V> {
  loops: number;
  /** When the window ends, on performance.now()'s clock. */
  endAt: number;
  call: () => Promise<V>;
  /** Sees every value a call got, with when it got it (performance.now()). */
  onValue?: (value: V, receivedAt: number) => void;
  /** Sees every error a call threw, with when (performance.now()). */
  onError?: (error: unknown, at: number) => void;
}

export interface LoopResult {
  /** Every call's latency in ms, ascending. */
  latencies: number[];
  errors: number;
}

export async function callerLoops<V>(options: LoopOptions<V>): Promise<LoopResult> {
  const { loops, endAt, call, onValue, onError } = options;
  const latencies: number[] = [];
  let errors = 0;
  const loop = async () => {
    // Bounded by the window (and by a call count far above what a window can reach).
    for (let i = 0; i < 10_000_000 && performance.now() < endAt; i++) {
      const started = performance.now();
      try {
        const value = await call();
        const received = performance.now();
        latencies.push(received - started);
        onValue?.(value, received);
      } catch (error) {
        const at = performance.now();
        latencies.push(at - started);
        errors++;
        onError?.(error, at);
      }
      await sleep(1);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  latencies.sort((a, b) => a - b);
  return { latencies, errors };
}

/** The latency figures every expiry table shows; `blocked` counts calls of at least blockedMs. */
export function latencyFigures(
  latencies: readonly number[],
  blockedMs: number,
): { calls: number; blocked: number; p50us: number; p999: number; max: number } {
  return {
    calls: latencies.length,
    blocked: latencies.length - lowerBound(latencies, blockedMs),
    p50us: percentile(latencies, 0.5) * 1000,
    p999: percentile(latencies, 0.999),
    max: latencies[latencies.length - 1] ?? Number.NaN,
  };
}
