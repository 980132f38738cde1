/** Coalescing does not join an execution older than its bound (a lost invalidation message's). */
import { describe, expect, it } from 'vitest';
import { Coalescing } from '../../src/graphql/coalescing.js';
import { deferred } from '../helpers/deferred.js';

describe('Coalescing and the age of an execution', () => {
  function run(maxJoinAgeMs: number) {
    const coalescing = new Coalescing({ timeoutMs: 10_000, maxJoinAgeMs: () => maxJoinAgeMs });
    const gate = deferred<{ data: { n: number } }>();
    let executions = 0;
    const execute = () => {
      executions++;
      return executions === 1 ? gate.promise : Promise.resolve({ data: { n: executions } });
    };
    const first = coalescing.run('k', execute, () => {});
    const second = coalescing.run('k', execute, () => {});
    gate.resolve({ data: { n: 1 } });
    return { first, second, executions: () => executions };
  }

  it('joins an execution within the bound', async () => {
    const t = run(Number.POSITIVE_INFINITY);
    await expect(t.second).resolves.toEqual({ data: { n: 1 } });
    expect(t.executions()).toBe(1);
  });

  it('starts its own execution past the bound', async () => {
    const t = run(-1);
    await expect(t.first).resolves.toEqual({ data: { n: 1 } });
    await expect(t.second).resolves.toEqual({ data: { n: 2 } });
    expect(t.executions()).toBe(2);
  });
});
