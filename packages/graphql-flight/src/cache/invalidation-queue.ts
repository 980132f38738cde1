import { CacheClosedError, InvalidationFailedError } from '../errors.js';

import type { InvalidationIds } from '../fleet/redis-lease.js';

export type { InvalidationIds };

/**
 * Sends one invalidation (the union of everything queued: retired ids, and soft-purged ids that
 * are not retired too) to the shared store; true when acknowledged.
 */
export type SendInvalidation = (hard: InvalidationIds, soft: InvalidationIds) => Promise<boolean>;

export interface InvalidationQueueOptions {
  send: SendInvalidation;
  /** How long `submit` waits for an acknowledgement before it rejects (the entry stays queued). */
  timeoutMs: number;
  /** Most ids (keys and tags) queued at once; past it a submission is refused at once. */
  maxPendingIds: number;
  /** First and longest delay between two sends while the store does not acknowledge. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface InvalidationStats {
  /** Invalidations Redis acknowledged. */
  sent: number;
  /** `invalidate` calls that rejected with InvalidationFailedError (each stays queued until sent). */
  failed: number;
  /** Invalidations queued now, waiting for Redis. */
  pending: number;
}

interface Entry {
  keyIds: readonly string[];
  tagIds: readonly string[];
  /** A soft purge (see Invalidation.soft). */
  soft: boolean;
  settled: boolean;
  resolve(): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Invalidations on their way to the shared store, in order, re-sent with capped backoff until it
 * acknowledges them. Each round sends the union of everything queued, so a burst of writes during
 * an outage costs one send when the store returns. While an id is queued, `isPending(id)` is true:
 * the cache reads nothing with that id from the store (its state there is not yet the truth).
 */
export class InvalidationQueue {
  readonly #options: Required<InvalidationQueueOptions>;
  readonly #entries: Entry[] = [];
  readonly #pendingIds = new Map<string, number>();
  #draining = false;
  /** A submission was refused (the queue was full): true until the queue drains. */
  #overflowed = false;
  #closed = false;
  #sent = 0;
  #failed = 0;

  constructor(options: InvalidationQueueOptions) {
    this.#options = { retryMinMs: 25, retryMaxMs: 250, ...options };
  }

  isPending(id: string): boolean {
    // After a refusal nobody knows which ids Redis still lacks: none is read from it until drained.
    if (this.#overflowed) return true;
    return this.#pendingIds.size > 0 && this.#pendingIds.has(id);
  }

  stats(): InvalidationStats {
    return { sent: this.#sent, failed: this.#failed, pending: this.#entries.length };
  }

  /** Resolves once the store acknowledged the invalidation; rejects at the deadline (still queued). */
  submit(keyIds: readonly string[], tagIds: readonly string[], soft = false): Promise<void> {
    if (this.#closed) return Promise.reject(new CacheClosedError());
    // Refused only when others already wait (one invalidation alone, however large, is sent in
    // chunks), so a refusal always leaves a queue whose drain clears the overflow.
    if (
      this.#entries.length > 0 &&
      this.#pendingIds.size + keyIds.length + tagIds.length > this.#options.maxPendingIds
    ) {
      this.#failed++;
      this.#overflowed = true;
      return Promise.reject(
        new InvalidationFailedError(
          keyIds.length,
          tagIds.length,
          `was refused: ${this.#pendingIds.size} ids already wait for Redis (maxPendingInvalidations)`,
          false,
        ),
      );
    }
    this.#compact();
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        keyIds,
        tagIds,
        soft,
        settled: false,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (entry.settled) return;
          entry.settled = true;
          this.#failed++;
          reject(
            new InvalidationFailedError(
              keyIds.length,
              tagIds.length,
              `was not acknowledged by Redis within ${this.#options.timeoutMs} ms`,
            ),
          );
        }, this.#options.timeoutMs),
      };
      entry.timer.unref?.();
      for (const id of [...keyIds, ...tagIds]) this.#pendingIds.set(id, (this.#pendingIds.get(id) ?? 0) + 1);
      this.#entries.push(entry);
      void this.#drain();
    });
  }

  /**
   * Keeps the queue short however long Redis stays away: the entries whose callers were already
   * answered (their deadline passed) become one entry with the union of their ids (a retirement:
   * soft purges merged there are sent as retirements, which is stronger, never weaker).
   */
  #compact(): void {
    if (this.#entries.length < 64) return;
    const answered = this.#entries.filter((entry) => entry.settled);
    if (answered.length < 2) return;
    const keyIds = new Set<string>();
    const tagIds = new Set<string>();
    for (const entry of answered) {
      for (const id of entry.keyIds) keyIds.add(id);
      for (const id of entry.tagIds) tagIds.add(id);
      this.#unmark(entry);
    }
    const merged: Entry = {
      keyIds: [...keyIds],
      tagIds: [...tagIds],
      soft: false,
      settled: true,
      resolve: () => {},
      reject: () => {},
      timer: setTimeout(() => {}, 0),
    };
    clearTimeout(merged.timer);
    for (const id of [...merged.keyIds, ...merged.tagIds])
      this.#pendingIds.set(id, (this.#pendingIds.get(id) ?? 0) + 1);
    const kept = this.#entries.filter((entry) => !entry.settled);
    this.#entries.splice(0, this.#entries.length, merged, ...kept);
  }

  #unmark(entry: Entry): void {
    for (const id of [...entry.keyIds, ...entry.tagIds]) {
      const left = (this.#pendingIds.get(id) ?? 1) - 1;
      if (left === 0) this.#pendingIds.delete(id);
      else this.#pendingIds.set(id, left);
    }
  }

  /** Stops re-sending; what is still queued rejects with CacheClosedError. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.splice(0)) this.#settle(entry, new CacheClosedError());
    this.#pendingIds.clear();
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    let delay = this.#options.retryMinMs;
    try {
      while (this.#entries.length > 0 && !this.#closed) {
        const round = this.#entries.slice();
        const keyIds = new Set<string>();
        const tagIds = new Set<string>();
        const softKeyIds = new Set<string>();
        const softTagIds = new Set<string>();
        for (const entry of round) {
          for (const id of entry.keyIds) (entry.soft ? softKeyIds : keyIds).add(id);
          for (const id of entry.tagIds) (entry.soft ? softTagIds : tagIds).add(id);
        }
        let acknowledged = false;
        try {
          acknowledged = await this.#options.send(
            { keyIds: [...keyIds], tagIds: [...tagIds] },
            {
              keyIds: [...softKeyIds].filter((id) => !keyIds.has(id)),
              tagIds: [...softTagIds].filter((id) => !tagIds.has(id)),
            },
          );
        } catch {
          acknowledged = false;
        }
        if (this.#closed) return;
        if (!acknowledged) {
          await new Promise((resolve) => setTimeout(resolve, delay).unref?.());
          delay = Math.min(delay * 2, this.#options.retryMaxMs);
          continue;
        }
        delay = this.#options.retryMinMs;
        for (const entry of round) {
          // An entry compacted meanwhile left the queue then (its ids moved to the merged one).
          const at = this.#entries.indexOf(entry);
          if (at >= 0) {
            this.#entries.splice(at, 1);
            this.#unmark(entry);
          }
          this.#sent++;
          this.#settle(entry);
        }
        if (this.#entries.length === 0) this.#overflowed = false;
      }
    } finally {
      this.#draining = false;
    }
  }

  #settle(entry: Entry, error?: unknown): void {
    clearTimeout(entry.timer);
    if (entry.settled) return;
    entry.settled = true;
    if (error === undefined) entry.resolve();
    else entry.reject(error);
  }
}
