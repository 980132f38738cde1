import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Figures } from './memory-flood.js';

const MIB = 1024 * 1024;

/** Runs tests/server/memory-flood.ts in a child node with --expose-gc; resolves its figures. */
function flood(maxBytes: number, requests: number): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--conditions=@graphql-flight/source',
        '--import',
        'tsx',
        'tests/server/memory-flood.ts',
        String(maxBytes),
        String(requests),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`memory-flood exited with ${code}: ${stderr.slice(-2_000)}`));
        return;
      }
      resolve(JSON.parse(line) as Figures);
    });
  });
}

/**
 * Issue 12: the memory tier's byte estimate is honest, so what the process holds is what
 * maxBytes says. A flood of distinct cacheable responses (products(ids:) permutations) through
 * the server's response cache, with CACHE_MAX_BYTES at 16 MiB.
 */
describe('memory under a flood of distinct cacheable responses', () => {
  it('fills the memory tier to maxBytes, evicts, and grows heap used by at most 1.25x maxBytes', async () => {
    const maxBytes = 16 * MIB;
    const figures = await flood(maxBytes, 3_000);
    // For the record (README, "Sizing memory"): RSS is reported, not asserted.
    console.info(
      `memory flood: ${figures.stored} responses stored, ${figures.entries} entries kept, ` +
        `heap +${((figures.heapAfter - figures.heapBefore) / MIB).toFixed(1)} MiB ` +
        `(${figures.heapRatio.toFixed(2)}x maxBytes), RSS +${((figures.rssAfter - figures.rssBefore) / MIB).toFixed(1)} MiB ` +
        `(${figures.rssRatio.toFixed(2)}x), ${figures.ms} ms`,
    );
    // Every request stored a distinct response, more than the tier can hold.
    expect(figures.stored).toBe(3_000);
    expect(figures.evictions).toBeGreaterThan(500);
    // The tier is full, within its bound.
    expect(figures.bytes).toBeLessThanOrEqual(maxBytes);
    expect(figures.bytes).toBeGreaterThan(maxBytes - 64 * 1024);
    expect(figures.heapAfter - figures.heapBefore).toBeLessThanOrEqual(1.25 * maxBytes);
  }, 180_000);
});
