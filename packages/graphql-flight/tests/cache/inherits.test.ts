/** Values made from other values (Reads, inherits), in one process. */
import { describe, expect, it } from 'vitest';
import { createCache, Reads } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';

describe('a value that inherits what it read', () => {
  it('is retired with its input, and a caller after the input is invalidated never joins its old flight', async () => {
    const cache = createCache();
    await cache.remember('input', async () => 'old');
    const reads = new Reads();
    const gate = deferred<void>();
    let loads = 0;
    const derive = () =>
      cache.remember(
        'derived',
        async () => {
          loads++;
          const input = await cache.remember('input', async () => 'new', { readInto: reads });
          if (loads === 1) await gate.promise;
          return `from ${input}`;
        },
        // Fixed tags of its own, and what it read: any of them retires it.
        { tags: ['fixed'], inherits: reads },
      );
    const first = derive();
    await cache.invalidate({ keys: ['input'] });
    const second = derive();
    gate.resolve();
    await expect(first).resolves.toBe('from old');
    await expect(second).resolves.toBe('from new');
    expect(loads).toBe(2);
    // Stored, then retired with its input.
    expect(cache.peek('derived')).toBe('from new');
    await cache.invalidate({ keys: ['input'] });
    expect(cache.peek('derived')).toBeUndefined();
  });
});
