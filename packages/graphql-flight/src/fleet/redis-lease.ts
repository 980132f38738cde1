import { createHash, randomUUID } from 'node:crypto';
import { decodeStored, encodeStored, type RedisClient, storeKey } from '../store/redis-store.js';
import type { StoreGuard } from '../store/store-guard.js';
import { FlightError, positiveMs } from '../errors.js';

export interface FleetOptions {
  /** Lease time to live, in ms. The leader extends it every leaseTtlMs/3 while it loads. Default 2 000. */
  leaseTtlMs?: number;
  /** First poll delay of a waiting process, in ms (doubled each poll, jittered). Default 25. */
  pollMinMs?: number;
  /** Longest poll delay, in ms. Default 400. */
  pollMaxMs?: number;
  /** Extend the lease while loading. Default true; false only to show what the heartbeat buys. */
  heartbeat?: boolean;
}

export interface FleetStats {
  enabled: boolean;
  /** Loads this process ran as the fleet's leader for a key. */
  leasesWon: number;
  /** Fetches that found another process's lease and waited for it. */
  waits: number;
  /** Leases won after waiting: the previous holder died or gave up. */
  takeovers: number;
  /** Loads not written back: the lease was lost, or the key was invalidated during the load. */
  fillsRefused: number;
  wakeupsByMessage: number;
  wakeupsByPoll: number;
  /** Fetches that loaded locally because Redis failed or the circuit was open. */
  fallbacks: number;
}

/** Fleet figures at zero (`enabled: false` is what a cache without the fleet reports). */
export function fleetStats(enabled: boolean): FleetStats {
  return {
    enabled,
    leasesWon: 0,
    waits: 0,
    takeovers: 0,
    fillsRefused: 0,
    wakeupsByMessage: 0,
    wakeupsByPoll: 0,
    fallbacks: 0,
  };
}

/** Where a fetched value came from. */
export type FleetSource = 'redis' | 'loaded' | 'fallback';

export interface FleetFetch<T> {
  value: T;
  source: FleetSource;
  /** For `redis`: the value's remaining TTL in Redis, in ms (freshness from Redis's clock only). */
  pttl?: number;
}

/** A leader elsewhere failed: its waiters fail too (the error is not cached; the next call elects again). */
export class FleetLoadFailedError extends FlightError {
  constructor(key: string) {
    super('E_LOAD_FAILED', `the fleet leader's load of key "${key}" failed`, { key });
  }
}

type Outcome = 'filled' | 'failed' | 'released' | 'deleted';

/**
 * Read the value; on a miss take the lease if nobody holds it. One round trip.
 * Returns {1, value, pttl} | {2, epoch} (lease won) | {3, leasePttl} (held by another).
 */
const GET_OR_LEASE = `
local value = redis.call('GET', KEYS[1])
if value then return {1, value, redis.call('PTTL', KEYS[1])} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {2, redis.call('GET', KEYS[3]) or '0'}
end
return {3, redis.call('PTTL', KEYS[2])}`;

/**
 * Write the value only if the lease is still ours and no invalidation happened since we won it
 * (the epoch we saw). Returns 1 filled, 0 lease lost, -1 invalidated (lease released).
 */
const FILL = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[5], 'released|' .. ARGV[6])
  return -1
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[5], 'filled|' .. ARGV[6])
return 1`;

/** Give the lease up (load failed or abandoned) and tell the waiters why. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. '|' .. ARGV[4])
  return 1
end
return 0`;

/** Heartbeat: extend the lease only while it is still ours. */
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Invalidate: a new epoch (fills of loads that started before are refused), no value, a message. */
const INVALIDATE = `
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'deleted|' .. ARGV[3])
return 1`;

/**
 * A batch's read: for each key (KEYS in pairs: value, epoch) its value (or nil) and its epoch, so
 * the batch's later fill can be fenced by the epochs it saw.
 */
const READ_MANY = `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('GET', KEYS[i]) or false
  out[#out + 1] = redis.call('GET', KEYS[i + 1]) or '0'
end
return out`;

/**
 * A batch's fill, fenced key by key: a value is written only if its key's epoch is still the one
 * the batch read (no invalidation since). ARGV: ttl, channel, then per key epoch, value, key.
 * Returns how many were written.
 */
const FILL_MANY = `
local filled = 0
for i = 1, #KEYS / 2 do
  local base = 2 + (i - 1) * 3
  if (redis.call('GET', KEYS[2 * i]) or '0') == ARGV[base + 1] then
    redis.call('SET', KEYS[2 * i - 1], ARGV[base + 2], 'PX', ARGV[1])
    redis.call('PUBLISH', ARGV[2], 'filled|' .. ARGV[base + 3])
    filled = filled + 1
  end
end
return filled`;

const SCRIPTS = [GET_OR_LEASE, FILL, RELEASE, EXTEND, INVALIDATE, READ_MANY, FILL_MANY];

/** Epochs outlive any value or lease they guard, and then expire (they never leak). */
const EPOCH_TTL_MS = 24 * 60 * 60 * 1000;
const FAILED = Symbol('redis call failed');

interface Mailbox {
  pending: Outcome | undefined;
  wake: ((outcome: Outcome) => void) | undefined;
}

/**
 * The single flight across processes that share one Redis: a lease per key (SET NX PX) elects
 * one loader in the fleet; the others wait for a pub/sub wake-up, with polling as the guarantee,
 * and take the lease over when it expires without a value. The leader extends its lease while it
 * loads, and fills only if the lease is still its own and the key's epoch has not moved since it
 * won (the stale-set guard). Every Redis call goes through the cache's StoreGuard (deadline and
 * circuit breaker); when Redis fails the fetch loads locally, so each process falls back to its
 * own single flight. The protocol is described in README ("Fleet").
 */
export class FleetLease {
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #guard: StoreGuard;
  readonly #ready: Promise<void>;
  readonly #namespace: string;
  readonly #channel: string;
  readonly #leaseTtlMs: number;
  readonly #pollMinMs: number;
  readonly #pollMaxMs: number;
  readonly #heartbeat: boolean;
  readonly #onDeleted: (k: string) => void;
  readonly #mailboxes = new Map<string, Set<Mailbox>>();
  readonly #shas = new Map<string, string>();
  #closed = false;
  readonly #stats = fleetStats(true);

  constructor(
    client: RedisClient,
    options: FleetOptions & {
      namespace: string;
      guard: StoreGuard;
      ready: Promise<void>;
      onDeleted: (k: string) => void;
      onError: (error: unknown) => void;
    },
  ) {
    this.#client = client;
    this.#guard = options.guard;
    this.#ready = options.ready;
    this.#namespace = options.namespace;
    this.#channel = `${options.namespace}:fleet`;
    this.#leaseTtlMs = positiveMs('fleet.leaseTtlMs', options.leaseTtlMs ?? 2_000);
    this.#pollMinMs = positiveMs('fleet.pollMinMs', options.pollMinMs ?? 25);
    this.#pollMaxMs = positiveMs('fleet.pollMaxMs', options.pollMaxMs ?? 400);
    this.#heartbeat = options.heartbeat ?? true;
    this.#onDeleted = options.onDeleted;
    // Load the scripts on every (re)connection, so the first call of each is one EVALSHA rather
    // than EVALSHA, NOSCRIPT, EVAL. EVAL stays the fallback (a SCRIPT FLUSH, a failover).
    const loadScripts = () => {
      for (const script of SCRIPTS) client.scriptLoad(script).catch(options.onError);
    };
    client.on('ready', loadScripts);
    if (client.isReady) loadScripts();
    // One subscriber connection per process. No socket timeout on it: an idle subscriber is
    // normal, and a silent one only costs latency, since polling is what guarantees progress.
    this.#subscriber = client.duplicate({ socket: { ...client.options?.socket, socketTimeout: 0 } });
    this.#subscriber.on('error', options.onError);
    this.#subscriber
      .connect()
      .then(() => this.#subscriber.subscribe(this.#channel, (message) => this.#deliver(message)))
      .catch(options.onError);
  }

  stats(): FleetStats {
    return { ...this.#stats };
  }

  /**
   * The value of `k`: from Redis if it is there; else loaded by exactly one process of the fleet
   * (this one if it wins the lease) and read by the others when it lands. `keep(value)` says
   * whether this process still wants the loaded value written (false after a local invalidation,
   * or for a value not to be stored). `signal` is
   * the local flight's: when it aborts (deadline, or every waiter left), waiting stops.
   */
  async fetch<T>(
    k: string,
    ttlMs: number,
    load: () => Promise<T>,
    signal: AbortSignal,
    keep: (value: T) => boolean,
  ): Promise<FleetFetch<T>> {
    const keys = this.#keys(k);
    const leaseId = `${process.pid}:${randomUUID()}`;
    const mailbox: Mailbox = { pending: undefined, wake: undefined };
    // Listen before the first read, so a fill that lands between our read and our wait is not missed.
    this.#listen(k, mailbox);
    let waited = false;
    let delay = this.#pollMinMs;
    try {
      for (;;) {
        signal.throwIfAborted();
        mailbox.pending = undefined;
        const reply = await this.#eval(
          GET_OR_LEASE,
          [keys.value, keys.lease, keys.epoch],
          [leaseId, String(this.#leaseTtlMs)],
        );
        if (reply === FAILED) {
          this.#stats.fallbacks++;
          return { value: await load(), source: 'fallback' };
        }
        const [kind, first, second] = reply as [number, string | number, number];
        if (kind === 1)
          return { value: decodeStored<T>(String(first)), source: 'redis', pttl: Number(second) };
        if (kind === 2) {
          this.#stats.leasesWon++;
          if (waited) this.#stats.takeovers++;
          return {
            value: await this.#lead(k, keys, leaseId, String(first), ttlMs, load, signal, keep),
            source: 'loaded',
          };
        }
        if (!waited) {
          waited = true;
          this.#stats.waits++;
        }
        // The lease's remaining time bounds the wait: when it expires without a value, one of the
        // waiters takes over. Equal jitter keeps the fleet's polls apart.
        const leaseLeft = Math.max(0, Number(first)) + 5;
        const outcome = await this.#wait(
          mailbox,
          Math.min(leaseLeft, delay / 2 + (Math.random() * delay) / 2),
          signal,
        );
        delay = Math.min(delay * 2, this.#pollMaxMs);
        if (outcome === undefined) this.#stats.wakeupsByPoll++;
        else this.#stats.wakeupsByMessage++;
        if (outcome === 'failed') throw new FleetLoadFailedError(k);
      }
    } finally {
      this.#unlisten(k, mailbox);
    }
  }

  /**
   * The values of `ks` in Redis and the epoch each key had when read (for fillMany), in one round
   * trip; undefined when Redis failed (the batch then loads, and fills nothing).
   */
  async readMany<T>(
    ks: readonly string[],
  ): Promise<Array<{ value: T | undefined; epoch: string }> | undefined> {
    const keys: string[] = [];
    for (const k of ks) {
      const { value, epoch } = this.#keys(k);
      keys.push(value, epoch);
    }
    const reply = await this.#eval(READ_MANY, keys, []);
    if (reply === FAILED || !Array.isArray(reply)) return undefined;
    return ks.map((_, i) => {
      const stored = reply[2 * i] as string | null;
      return { value: stored == null ? undefined : decodeStored<T>(stored), epoch: String(reply[2 * i + 1]) };
    });
  }

  /**
   * Writes loaded values of a batch, each only if its key's epoch is still the one `readMany` gave
   * (an invalidation since, from any process, wins). Resolves how many were written.
   */
  async fillMany<T>(
    entries: ReadonlyArray<{ k: string; value: T; epoch: string }>,
    ttlMs: number,
  ): Promise<number> {
    const keys: string[] = [];
    const args = [String(Math.ceil(ttlMs)), this.#channel];
    for (const { k, value, epoch } of entries) {
      const layout = this.#keys(k);
      keys.push(layout.value, layout.epoch);
      args.push(epoch, encodeStored(value), k);
    }
    const filled = await this.#eval(FILL_MANY, keys, args);
    if (filled === FAILED) return 0;
    this.#stats.fillsRefused += entries.length - Number(filled);
    return Number(filled);
  }

  /** Deletes `k` in Redis with a new epoch and tells every process (their memory tiers drop it). */
  async invalidate(k: string): Promise<boolean> {
    const keys = this.#keys(k);
    const reply = await this.#eval(
      INVALIDATE,
      [keys.value, keys.lease, keys.epoch],
      [String(EPOCH_TTL_MS), this.#channel, k],
    );
    return reply !== FAILED;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const mailboxes of this.#mailboxes.values())
      for (const mailbox of mailboxes) mailbox.wake?.('released');
    this.#subscriber.removeAllListeners('error');
    this.#subscriber.on('error', () => {});
    if (this.#subscriber.isOpen) this.#subscriber.destroy();
  }

  async #lead<T>(
    k: string,
    keys: { value: string; lease: string; epoch: string },
    leaseId: string,
    epoch: string,
    ttlMs: number,
    load: () => Promise<T>,
    signal: AbortSignal,
    keep: (value: T) => boolean,
  ): Promise<T> {
    const heartbeat = this.#heartbeat
      ? setInterval(() => {
          if (signal.aborted) return clearInterval(heartbeat);
          void this.#eval(EXTEND, [keys.lease], [leaseId, String(this.#leaseTtlMs)]).then((extended) => {
            if (extended === 0) clearInterval(heartbeat); // lost: the fill will be refused
          });
        }, this.#leaseTtlMs / 3)
      : undefined;
    heartbeat?.unref?.();
    let value: T;
    try {
      value = await load();
    } catch (error) {
      clearInterval(heartbeat);
      await this.#eval(RELEASE, [keys.lease], [leaseId, this.#channel, 'failed', k]);
      throw error;
    }
    clearInterval(heartbeat);
    if (signal.aborted || !keep(value)) {
      // Not to be stored (late, or invalidated while it loaded): let a waiter elsewhere load afresh.
      if (!signal.aborted) this.#stats.fillsRefused++;
      await this.#eval(RELEASE, [keys.lease], [leaseId, this.#channel, 'released', k]);
      return value;
    }
    const filled = await this.#eval(
      FILL,
      [keys.value, keys.lease, keys.epoch],
      [leaseId, epoch, encodeStored(value), String(Math.ceil(ttlMs)), this.#channel, k],
    );
    if (filled !== 1 && filled !== FAILED) this.#stats.fillsRefused++;
    return value;
  }

  #keys(k: string) {
    return {
      value: storeKey(this.#namespace, 'v', k),
      lease: storeKey(this.#namespace, 'l', k),
      epoch: storeKey(this.#namespace, 'e', k),
    };
  }

  #listen(k: string, mailbox: Mailbox): void {
    let set = this.#mailboxes.get(k);
    if (set === undefined) {
      set = new Set();
      this.#mailboxes.set(k, set);
    }
    set.add(mailbox);
  }

  #unlisten(k: string, mailbox: Mailbox): void {
    const set = this.#mailboxes.get(k);
    if (set === undefined) return;
    set.delete(mailbox);
    if (set.size === 0) this.#mailboxes.delete(k);
  }

  /** A message for a key: wakes this process's waiters for it, and drops deleted values locally. */
  #deliver(message: string): void {
    const bar = message.indexOf('|');
    if (bar < 0) return;
    const outcome = message.slice(0, bar) as Outcome;
    const k = message.slice(bar + 1);
    if (outcome === 'deleted') this.#onDeleted(k);
    for (const mailbox of this.#mailboxes.get(k) ?? []) {
      if (mailbox.wake) mailbox.wake(outcome);
      else mailbox.pending = outcome;
    }
  }

  /** Resolves with the next message for the key, or undefined when `ms` pass first. */
  #wait(mailbox: Mailbox, ms: number, signal: AbortSignal): Promise<Outcome | undefined> {
    if (mailbox.pending !== undefined) {
      const outcome = mailbox.pending;
      mailbox.pending = undefined;
      return Promise.resolve(outcome);
    }
    return new Promise((resolve) => {
      const done = (outcome: Outcome | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        mailbox.wake = undefined;
        resolve(outcome);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      mailbox.wake = done;
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** EVALSHA (EVAL when the script cache lost it, e.g. after a restart), under the store guard. */
  async #eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    if (this.#closed) return FAILED;
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex');
      this.#shas.set(script, sha);
    }
    const known = sha;
    return this.#guard.run(async () => {
      await this.#ready;
      try {
        return await this.#client.evalSha(known, { keys, arguments: args });
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return this.#client.eval(script, { keys, arguments: args });
      }
    }, FAILED);
  }
}
