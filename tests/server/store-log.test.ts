import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreTimeoutError } from 'graphql-flight';
import { createStoreLog } from '../../src/plugins/store-log.js';

/** A refused connection, as node-redis reports it (a system error with a code). */
function refused(port: number): Error {
  return Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
}

describe('the store log (rate-limited store errors, circuit changes)', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const open = () => createStoreLog({ log: (level, line) => lines.push(`${level} ${line}`) });

  it('logs the first error of a kind at once, then one line per 10 s with the count of the others', async () => {
    const log = open();
    log.error(refused(1));
    expect(lines).toEqual(['warn redis store error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:1']);
    for (let i = 2; i <= 40; i++) log.error(refused(i));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(lines).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(lines).toEqual([
      'warn redis store error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:1',
      'warn redis store error (ECONNREFUSED): 39 more in the last 10 s, the last: connect ECONNREFUSED 127.0.0.1:40',
    ]);
    // A sustained failure keeps to one line per window.
    for (let i = 0; i < 5; i++) log.error(refused(50));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe(
      'warn redis store error (ECONNREFUSED): 5 more in the last 10 s, the last: connect ECONNREFUSED 127.0.0.1:50',
    );
    // A quiet window ends without a line; the next error is logged at once again.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lines).toHaveLength(3);
    log.error(refused(60));
    expect(lines).toHaveLength(4);
    log.close();
  });

  it('logs failed background refreshes, limited per kind like store errors', async () => {
    const log = open();
    log.refreshError(new Error('connection terminated'));
    for (let i = 0; i < 9; i++) log.refreshError(new Error('connection terminated'));
    expect(lines).toEqual(['warn background refresh failed, stale values served: connection terminated']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lines[1]).toBe(
      'warn background refresh failed: 9 more in the last 10 s, the last: connection terminated',
    );
    log.refreshError(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    expect(lines[2]).toBe('warn background refresh failed (ETIMEDOUT), stale values served: timeout');
    log.close();
  });

  it('keeps kinds apart: by code, by error name, and by message for a plain Error', async () => {
    const log = open();
    log.error(refused(1));
    log.error(new StoreTimeoutError(100));
    log.error(new Error('The client is offline'));
    log.error(new Error('The client is offline'));
    log.error(new Error('Socket closed unexpectedly'));
    expect(lines).toEqual([
      'warn redis store error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:1',
      'warn redis store error (StoreTimeoutError): store call missed its 100 ms deadline',
      'warn redis store error: The client is offline',
      'warn redis store error: Socket closed unexpectedly',
    ]);
    // lastError is short and names no address (it is shown by /ready).
    expect(log.lastError).toBe('Socket closed unexpectedly');
    log.error(refused(2));
    expect(log.lastError).toBe('ECONNREFUSED');
    await vi.advanceTimersByTimeAsync(10_000);
    // Each window ends in the order it began.
    expect(lines.slice(4)).toEqual([
      'warn redis store error (ECONNREFUSED): 1 more in the last 10 s, the last: connect ECONNREFUSED 127.0.0.1:2',
      'warn redis store error: 1 more in the last 10 s, the last: The client is offline',
    ]);
    log.close();
  });

  it('always logs the circuit opening and closing, and limits the probes of an open circuit', async () => {
    const log = open();
    log.stateChange({ from: 'closed', to: 'open' });
    // Redis stays down: a probe every cooldown, each failing.
    for (let i = 0; i < 4; i++) {
      log.stateChange({ from: 'open', to: 'half-open' });
      log.stateChange({ from: 'half-open', to: 'open' });
    }
    expect(lines).toEqual([
      'warn redis circuit open: store calls failed in a row; calls skip Redis and values load from the database (this process only) until a probe answers',
      'info redis circuit half-open: one probe call to Redis',
      'warn redis circuit open again: the probe failed',
    ]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lines.slice(3)).toEqual([
      'info redis circuit half-open: one probe call to Redis (3 more times in the last 10 s)',
      'warn redis circuit open again: the probe failed (3 more times in the last 10 s)',
    ]);
    log.stateChange({ from: 'open', to: 'half-open' });
    log.stateChange({ from: 'half-open', to: 'closed' });
    expect(lines.at(-1)).toBe('info redis circuit closed: Redis answers again');
    log.close();
  });

  it('keeps no timer after close()', () => {
    const log = open();
    log.error(refused(1));
    expect(vi.getTimerCount()).toBe(1);
    log.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
