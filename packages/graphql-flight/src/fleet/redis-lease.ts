import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { FlightError, positiveMs } from '../errors.js';
import { decodeRecord, encodeRecord, type RedisKeys } from '../store/redis-keys.js';
import { decodeStored, encodeStored, type RedisClient } from '../store/redis-store.js';
import type { StoreGuard } from '../store/store-guard.js';

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
  /** Loads not written back: the lease was lost, or the key or a tag was invalidated during the load. */
  fillsRefused: number;
  /** Values read from Redis that an invalidation of one of their tags had retired (dropped there). */
  staleDropped: number;
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
    staleDropped: 0,
    wakeupsByMessage: 0,
    wakeupsByPoll: 0,
    fallbacks: 0,
  };
}

/** Where a fetched value came from. */
export type FleetSource = 'redis' | 'loaded' | 'fallback';

/** What a load gives the fleet: the value, and the ids of its tags (fenced and stored with it). */
export interface Loaded<T> {
  value: T;
  tagIds: readonly string[];
  /**
   * For a value made from other cached values (see FlightCache's Reads): the oldest sequence
   * among them. It is fenced from there, not from its own load's start, since its data is only as
   * fresh as its oldest input.
   */
  floor?: number;
  /** Made from a value whose sequence is unknown (loaded while Redis failed): never written to Redis. */
  localOnly?: boolean;
  /** How long its load took, in ms (stored with it, for early refreshes). */
  delta?: number;
}

/**
 * How long a value lives (issue 13): fresh for `ttlMs`, then servable stale for its revalidate
 * window `swrMs` and its error window `sieMs`; Redis holds it for `ttlMs` and the longer window.
 */
export interface Lifetime {
  ttlMs: number;
  swrMs: number;
  sieMs: number;
  /** Early refreshes asked (XFetch): the value keeps its load time. */
  early: boolean;
}

/** A value found in Redis, servable: what its record says, and its PTTL there. */
export interface FleetFound<T> {
  value: T;
  tagIds: readonly string[];
  seq: number;
  /** Its PTTL in Redis; a soft-purged value's is cut to its windows (stale from the read on). */
  pttl: number;
  /** The windows it was written with. */
  life: { swrMs: number; sieMs: number };
  delta: number;
  /** Its write's revision (windowed records). */
  rev: string | undefined;
}

/** How a fetch treats a value it finds (see FlightCache's freshness). */
export interface FetchMode<T> {
  /**
   * A value with at most this PTTL left is not served as found: it is loaded (with the lease)
   * and handed to `onStale`, the fallback of callers if the load fails. -1: any value is served.
   * 'record': by the value's own windows (its writer's): past its revalidate window, inside its
   * error window.
   */
  minPttl: number | 'record';
  /** A background refresh: a lease another process holds is not waited for (`held`). */
  refresh: boolean;
  /**
   * For a refresh: the revision of the stale value it replaces. A value with another revision is
   * a newer write (another process refreshed it): it is served as found, whatever its PTTL.
   */
  staleRev?: string;
  onStale?: (found: FleetFound<T>) => void;
  /** A failed load of a value with an error window marks the lease for this long (see FAILED_MARK). */
  backoff?: { initialMs: number; maxMs: number };
}

/** Ids of keys and of tags to invalidate. */
export interface InvalidationIds {
  keyIds: readonly string[];
  tagIds: readonly string[];
}

/** A refresh found another process refreshing the key: its lease has `held` ms left. */
export interface Held {
  held: number;
}

/**
 * The fleet's refreshes of this key are failing: its last attempt failed, and the next may not
 * start for `retryInMs` (the backoff, kept in Redis so it holds for the fleet). Callers with a
 * stale value get it; the others the error.
 */
export class RefreshThrottledError extends FlightError {
  readonly retryInMs: number;
  constructor(key: string, retryInMs: number) {
    super(
      'E_LOAD_FAILED',
      `the fleet's refreshes of key "${key}" are failing; next attempt in ${retryInMs} ms`,
      {
        key,
      },
    );
    this.retryInMs = retryInMs;
  }
}

export interface FleetFetch<T> {
  value: T;
  source: FleetSource;
  /** The ids of the value's tags (from its record in Redis, or from its load). */
  tagIds: readonly string[];
  /** For `redis`: the value's remaining TTL in Redis, in ms (freshness from Redis's clock only). */
  pttl?: number;
  /**
   * The invalidation sequence its data is as fresh as (its record's, or its load's start and
   * inputs); undefined when Redis was not asked (a fallback).
   */
  seq?: number;
  /** Redis kept refusing its fill (invalidated again and again): it answers its callers, kept nowhere. */
  retired?: boolean;
  /** For `redis`: the windows it was written with. */
  life?: { swrMs: number; sieMs: number };
  /** How long its load took, in ms. */
  delta?: number;
  /** The revision of its write (its record's, or the fill this load made), for windowed values. */
  rev?: string;
}

/** One key of a batch: its encoded key, its id, its flight's signal, and its keep check. */
export interface BatchKey<T> {
  k: string;
  id: string;
  signal: AbortSignal;
  keep: (loaded: Loaded<T>) => boolean;
}

/** Loads the keys at `which` (indices into the batch); one result per index, in that order. */
export type BatchLoad<T> = (which: number[], signal: AbortSignal) => Promise<Array<Loaded<T> | Error>>;

/** A leader elsewhere failed: its waiters fail too (the error is not cached; the next call elects again). */
export class FleetLoadFailedError extends FlightError {
  constructor(key: string) {
    super('E_LOAD_FAILED', `the fleet leader's load of key "${key}" failed`, { key });
  }
}

type Outcome = 'filled' | 'failed' | 'released' | 'invalidated';
const OUTCOMES: Record<string, Outcome> = { f: 'filled', x: 'failed', r: 'released' };

/**
 * Read the value; on a miss (no value, or one with at most ARGV[3] ms left: past its revalidate
 * window, or a refresh's; ARGV[3] 'record': past the record's own revalidate window, into its
 * error window) take the lease if nobody holds it (ARGV[1] '' : no lease, read only).
 * ARGV[4], for a refresh: the revision of the stale value; a value of another revision is a newer
 * write, served as found.
 * A lease `f|<failures>|<not before>` marks failed loads of a key with windows: while a value is
 * there it is taken only by a refresh (ARGV[5] '1'), and not before that time (Redis's clock), so
 * the fleet's attempts keep one backoff apart; with no value left, it is taken over at once.
 * Returns {kind, n, pttl, record or false, the key's soft state or false, Redis's time in ms}:
 * kind 1 served (n 0), 2 lease won or no lease asked (n: the mark's failures), 3 held by another
 * (n: its PTTL), 4 failing and throttled (n: ms until the next attempt may start).
 */
const GET_OR_LEASE = `
local value = redis.call('GET', KEYS[1])
local soft = redis.call('GET', KEYS[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pttl = -2
if value then
  pttl = redis.call('PTTL', KEYS[1])
  local head = string.sub(value, 1, (string.find(value, string.char(10), 1, true) or 0) - 1)
  local minPttl = tonumber(ARGV[3])
  if ARGV[3] == 'record' then
    local _, _, swr, sie = string.find(head, '^%d+,(%d+),(%d+),')
    minPttl = -1
    if swr and tonumber(sie) > tonumber(swr) then minPttl = tonumber(sie) - tonumber(swr) end
  end
  if pttl > minPttl then return {1, 0, pttl, value, soft, now} end
  if ARGV[4] ~= '' and string.sub(head, -#ARGV[4] - 1) ~= ',' .. ARGV[4] then
    return {1, 0, pttl, value, soft, now}
  end
end
if ARGV[1] == '' then return {2, 0, pttl, value, soft, now} end
local lease = redis.call('GET', KEYS[2])
if lease and string.sub(lease, 1, 2) == 'f|' then
  local failures, notBefore = string.match(lease, '^f|(%d+)|(%d+)$')
  local left = tonumber(notBefore) - now
  -- While a stale value is there, only a background refresh (ARGV[5] '1') makes the next attempt:
  -- a caller is answered stale meanwhile instead of waiting for a load that is likely to fail.
  if value and (left > 0 or ARGV[5] ~= '1') then return {4, math.max(left, 0), pttl, value, soft, now} end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {2, tonumber(failures), pttl, value, soft, now}
end
if not lease and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, 0, pttl, value, soft, now} end
return {3, redis.call('PTTL', KEYS[2]), pttl, value, soft, now}`;

/**
 * A load of a key with an error window failed: if the lease is still ours, it becomes the mark
 * `f|<failures ARGV[2]>|<not before>` (Redis's time plus the backoff ARGV[3]), kept ARGV[4] ms,
 * and waiters are told it failed.
 */
const MARK_FAILED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('SET', KEYS[1], 'f|' .. ARGV[2] .. '|' .. (now + tonumber(ARGV[3])), 'PX', ARGV[4])
  redis.call('PUBLISH', ARGV[5], 'x|' .. ARGV[6])
  return 1
end
return 0`;

/**
 * Write the value only if the key was not invalidated after the load began (its fence is not
 * above the load's sequence ARGV[2]) and the lease is still ours (ARGV[1] '' : no lease).
 * Returns -1 invalidated (checked first: an invalidation also deletes the lease; ours is
 * released), 0 lease lost, 1 filled.
 */
const FILL = `
local ours = ARGV[1] ~= ''
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[2]) then
  if ours and redis.call('GET', KEYS[2]) == ARGV[1] then
    redis.call('DEL', KEYS[2])
    redis.call('PUBLISH', ARGV[5], 'r|' .. ARGV[6])
  end
  return -1
end
if ours and redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
-- A soft state (KEYS[4]) outlives every value written under it: it may mark this one.
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[4], 'GT') end
if ours then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[5], 'f|' .. ARGV[6])
return 1`;

/**
 * Soft-purge a key or tag at sequence ARGV[1] (KEYS[1] its soft state, `<seq>:<Redis time ms>`):
 * values loaded before it are stale when read, their windows counted from that time. It lives as long as what it marks may (KEYS[2]: the key's value, or the
 * tag's state, which outlives its values), and at least ARGV[2] ms.
 */
const SOFTEN = `
local ttl = math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[2]))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('GET', KEYS[1])
if not cur or tonumber(ARGV[1]) > tonumber(string.match(cur, '^(%d+)')) then
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. now, 'PX', ttl)
else redis.call('PEXPIRE', KEYS[1], ttl, 'GT') end
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

/**
 * A fill's check of one tag: its last invalidation's sequence (0: none). The tag's state is made
 * to outlive the value about to be written (ARGV[1] ms), so it can still retire it.
 */
const TAG_CHECK = `
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1], 'GT') end
local seq = redis.call('GET', KEYS[1])
if seq then
  redis.call('PEXPIRE', KEYS[1], ARGV[1], 'GT')
  return seq
end
redis.call('SET', KEYS[1], '0', 'PX', ARGV[1])
return '0'`;

/**
 * Invalidate a key at sequence ARGV[1]: its state (its fence, and the tag of values made from it)
 * moves up as a tag's does (see INVALIDATE_TAG), and its value and its lease are gone.
 */
const INVALIDATE_KEY = `
local seq = redis.call('GET', KEYS[3])
if not seq then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
else
  if tonumber(ARGV[1]) > tonumber(seq) then redis.call('SET', KEYS[3], ARGV[1], 'KEEPTTL') end
  redis.call('PEXPIRE', KEYS[3], ARGV[2], 'GT')
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1`;

/**
 * Invalidate a tag at sequence ARGV[1]: values loaded before it are retired when read. Its state
 * keeps the TTL fills gave it (it outlives the values it guards), and at least ARGV[2] ms (past any
 * load running now).
 */
const INVALIDATE_TAG = `
local seq = redis.call('GET', KEYS[1])
if not seq then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if tonumber(ARGV[1]) > tonumber(seq) then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
return 1`;

/**
 * Drop a value a reader found retired by a tag (or could not read), only if it is still that
 * record (ARGV[1]: its prefix up to the payload, or the whole unreadable value).
 */
const DROP_STALE = `
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/**
 * The invalidation sequence now (ARGV[1] = 1: the next one, for an invalidation). A sequence that
 * is not there (a new namespace, or a Redis restarted without its data) starts at a random base
 * ARGV[2], never at 0: a load that began before a restart cannot pass the fences set after it.
 */
const SEQUENCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end
if ARGV[1] == '1' then return redis.call('INCR', KEYS[1]) end
return redis.call('GET', KEYS[1])`;

const SCRIPTS = [
  GET_OR_LEASE,
  MARK_FAILED,
  SOFTEN,
  FILL,
  RELEASE,
  EXTEND,
  TAG_CHECK,
  INVALIDATE_KEY,
  INVALIDATE_TAG,
  DROP_STALE,
  SEQUENCE,
];
const FAILED = Symbol('redis call failed');
/** Ids invalidated per pipelined round (and per message). */
const INVALIDATION_CHUNK = 200;
/** A fetch retries this often when Redis says its load was overtaken by an invalidation. */
const MAX_ATTEMPTS = 3;

interface Mailbox {
  pending: Outcome | undefined;
  wake: ((outcome: Outcome) => void) | undefined;
}

export interface FleetDependencies {
  keys: RedisKeys;
  guard: StoreGuard;
  ready: Promise<void>;
  /**
   * With the lease (default): one load per key for the fleet. false: values shared and fenced,
   * each process loads a missing key itself.
   */
  lease: boolean;
  /** How long a key's or tag's fence outlives the invalidation that set it: past any load running then. */
  fenceTtlMs: number;
  /** Ids another process invalidated, or soft-purged (this process's own are not echoed). */
  onInvalidated: (ids: string[], soft: boolean) => void;
  /**
   * The subscriber connection came back after it was lost: messages sent meanwhile are lost, so
   * this process drops what it holds from before (its memory tier, its flights).
   */
  onResubscribed: () => void;
  /** Whether this process still has an unacknowledged invalidation of this id (never read it). */
  isPending: (id: string) => boolean;
  onError: (error: unknown) => void;
}

/**
 * Values shared through Redis, fenced by one invalidation sequence, and (with the lease) the
 * single flight across processes.
 *
 * Fence. `<ns>:{seq}` is incremented by every invalidation; a load reads it before it starts
 * (its sequence S). An invalidation at sequence I marks the key's fence or the tag's state with I.
 * A value is written only if its key's fence is not above S, and is served from Redis only if no
 * tag of it is above S. Since S is read before the load reads its data source, a value is refused
 * exactly when an invalidation may have come after its data was read. Redis's counter is the only
 * clock: no process compares its time with another's.
 *
 * Lease. A lease per key (SET NX PX) elects one loader in the fleet; the others wait for a pub/sub
 * wake-up, with polling as the guarantee, and take the lease over when it expires without a value.
 * The leader extends its lease while it loads. An invalidation of the key deletes the lease, so a
 * read after it never waits on a load begun before it.
 *
 * Every Redis call goes through the cache's StoreGuard (deadline and circuit breaker); when Redis
 * fails the fetch loads locally and writes nothing. Every script touches one cluster slot.
 */
export class FleetLease {
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #deps: FleetDependencies;
  readonly #keys: RedisKeys;
  readonly #channel: string;
  readonly #instance = randomUUID();
  readonly #leaseTtlMs: number;
  readonly #pollMinMs: number;
  readonly #pollMaxMs: number;
  readonly #heartbeat: boolean;
  readonly #mailboxes = new Map<string, Set<Mailbox>>();
  readonly #shas = new Map<string, string>();
  #closed = false;
  readonly #stats: FleetStats;

  constructor(client: RedisClient, options: FleetOptions | undefined, deps: FleetDependencies) {
    this.#client = client;
    this.#deps = deps;
    this.#keys = deps.keys;
    this.#channel = `${deps.keys.namespace}:fleet`;
    this.#stats = fleetStats(deps.lease);
    this.#leaseTtlMs = positiveMs('fleet.leaseTtlMs', options?.leaseTtlMs ?? 2_000);
    this.#pollMinMs = positiveMs('fleet.pollMinMs', options?.pollMinMs ?? 25);
    this.#pollMaxMs = positiveMs('fleet.pollMaxMs', options?.pollMaxMs ?? 400);
    this.#heartbeat = options?.heartbeat ?? true;
    // Load the scripts on every (re)connection, so the first call of each is one EVALSHA rather
    // than EVALSHA, NOSCRIPT, EVAL. EVAL stays the fallback (a SCRIPT FLUSH, a failover).
    const loadScripts = () => {
      for (const script of SCRIPTS) client.scriptLoad(script).catch(deps.onError);
    };
    client.on('ready', loadScripts);
    if (client.isReady) loadScripts();
    // One subscriber connection per process. No socket timeout (nor the PING that keeps a timed
    // connection busy) on it: an idle subscriber is normal, and a silent one only costs latency,
    // since polling is what guarantees progress.
    this.#subscriber = client.duplicate({
      socket: { ...client.options?.socket, socketTimeout: 0 },
      pingInterval: 0,
    });
    this.#subscriber.on('error', deps.onError);
    // node-redis subscribes again on every reconnection; what was published while the connection
    // was down never arrives, so a reconnection is taken as every message lost.
    let subscribed = false;
    this.#subscriber.on('ready', () => {
      if (subscribed && !this.#closed) deps.onResubscribed();
    });
    this.#subscriber
      .connect()
      .then(() => this.#subscriber.subscribe(this.#channel, (message) => this.#deliver(message)))
      .then(() => {
        subscribed = true;
      })
      .catch(deps.onError);
  }

  stats(): FleetStats {
    return { ...this.#stats };
  }

  /**
   * The value of `k` (whose id is `id`): from Redis if it is there and no tag of it was
   * invalidated since its load began; else loaded (with the lease: by exactly one process of the
   * fleet, this one if it wins the lease, the others reading it when it lands). `keep` says, right
   * before the write, whether this process still wants the loaded value written (false after a
   * local invalidation, or for a value not to be stored). A load that Redis shows was overtaken by
   * an invalidation (the message may be late or lost) is loaded again, up to MAX_ATTEMPTS times;
   * one still overtaken then comes back `retired` (its callers get it, nobody keeps it). `signal`
   * is the local flight's: when it aborts (deadline, or every waiter left), waiting stops.
   */
  async fetch<T>(
    k: string,
    id: string,
    life: Lifetime,
    load: () => Promise<Loaded<T>>,
    signal: AbortSignal,
    keep: (loaded: Loaded<T>) => boolean,
    mode: FetchMode<T> = ANY_VALUE as FetchMode<T>,
  ): Promise<FleetFetch<T> | Held> {
    const leaseId = this.#deps.lease ? `${process.pid}:${randomUUID()}` : '';
    const mailbox: Mailbox = { pending: undefined, wake: undefined };
    // Listen before the first read, so a fill that lands between our read and our wait is not missed.
    this.#listen(id, mailbox);
    let waited = false;
    let delay = this.#pollMinMs;
    let attempts = 0;
    // A soft-purged value found is loaded (see below): the lease is asked whatever the value.
    let forced = false;
    // A stale value seen on the way is handed to the caller once (its fallback).
    let staleSeen = false;
    // Resolves false when the value turned out not servable at all (retired, or past its windows).
    const stale = async (reply: GetOrLease): Promise<boolean> => {
      if (staleSeen || mode.onStale === undefined || typeof reply[3] !== 'string') return true;
      const found = await this.#served<T>(id, reply[3], reply[4], reply[5]);
      if (found === FAILED) return true;
      if (found === undefined || servablePttl(found, reply[2]) <= 0) return false;
      staleSeen = true;
      mode.onStale({ ...found, pttl: servablePttl(found, reply[2]) });
      return true;
    };
    try {
      for (;;) {
        signal.throwIfAborted();
        mailbox.pending = undefined;
        if (this.#deps.isPending(id)) return await this.#fallback(load);
        const reply = await this.#eval(
          GET_OR_LEASE,
          [this.#keys.value(id), this.#keys.lease(id), this.#keys.soft(id)],
          [
            leaseId,
            String(this.#leaseTtlMs),
            String(forced ? FORCED : mode.minPttl),
            forced ? '' : (mode.staleRev ?? ''),
            mode.refresh ? '1' : '0',
          ],
        );
        if (reply === FAILED) return await this.#fallback(load);
        const found = reply as GetOrLease;
        const [kind, first] = found;
        if (kind === 1) {
          const served = await this.#served<T>(id, found[3]!, found[4], found[5]);
          if (served === FAILED) return await this.#fallback(load);
          if (served === undefined) continue;
          // Soft-purged: served stale (a refresh follows), unless this is that refresh, or its
          // revalidate window counted from the purge is over: then it is loaded like a miss.
          if (served.soft && (mode.refresh || servablePttl(served, found[2]) <= softErrorPart(served))) {
            forced = true;
            continue;
          }
          return { ...served, source: 'redis', pttl: servablePttl(served, found[2]) };
        }
        if (kind === 4) {
          // Retired meanwhile (an invalidation): no stale value to answer with, so it is loaded.
          if (!(await stale(found))) continue;
          throw new RefreshThrottledError(k, first);
        }
        if (kind === 3 && mode.refresh) return { held: Math.max(0, first) };
        await stale(found);
        if (kind === 2) {
          if (this.#deps.lease) {
            this.#stats.leasesWon++;
            if (waited) this.#stats.takeovers++;
          }
          const failures = Number(first) || 0;
          const led = await this.#lead(id, leaseId, life, load, signal, keep, mode, failures);
          if (led.overtaken && ++attempts < MAX_ATTEMPTS) continue;
          // Still overtaken after the last attempt: it answers this flight, and is kept nowhere.
          const { value, tagIds, delta } = led.loaded;
          return {
            value,
            tagIds,
            source: 'loaded',
            seq: led.seq,
            retired: led.overtaken,
            delta,
            rev: led.rev,
          };
        }
        if (!waited) {
          waited = true;
          this.#stats.waits++;
        }
        // The lease's remaining time bounds the wait: when it expires without a value, one of the
        // waiters takes over. Equal jitter keeps the fleet's polls apart.
        const leaseLeft = Math.max(0, first) + 5;
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
      this.#unlisten(id, mailbox);
    }
  }

  /**
   * A batch: every key is read (and, with the lease, leased) in one pipelined round of one-slot
   * scripts; the keys this process won are loaded with one `loadMany` and filled key by key,
   * fenced like `fetch`; a key another process holds is waited for as `fetch` waits (and loaded
   * alone if its holder gives up). One promise per key, in order.
   */
  fetchMany<T>(
    batch: ReadonlyArray<BatchKey<T>>,
    life: Lifetime,
    loadMany: BatchLoad<T>,
  ): Array<Promise<FleetFetch<T>>> {
    const results = batch.map(() => deferred<FleetFetch<T>>());
    void this.#fetchMany(batch, life, loadMany, results).catch((error: unknown) => {
      for (const result of results) result.reject(error);
    });
    return results.map((result) => result.promise);
  }

  async #fetchMany<T>(
    batch: ReadonlyArray<BatchKey<T>>,
    life: Lifetime,
    loadMany: BatchLoad<T>,
    results: Array<Deferred<FleetFetch<T>>>,
  ): Promise<void> {
    const one = (i: number) => {
      const key = batch[i]!;
      const load = async () => {
        const [loaded] = await loadMany([i], key.signal);
        if (loaded instanceof Error) throw loaded;
        return loaded!;
      };
      // Any value is served as found (ANY_VALUE), so this fetch is never `held`.
      this.fetch(key.k, key.id, life, load, key.signal, key.keep).then(
        (fetched) => results[i]!.resolve(fetched as FleetFetch<T>),
        results[i]!.reject,
      );
    };
    const leaseIds = batch.map(() => (this.#deps.lease ? `${process.pid}:${randomUUID()}` : ''));
    const replies = await Promise.all(
      batch.map((key, i) =>
        this.#deps.isPending(key.id)
          ? FAILED
          : this.#eval(
              GET_OR_LEASE,
              [this.#keys.value(key.id), this.#keys.lease(key.id), this.#keys.soft(key.id)],
              [leaseIds[i]!, String(this.#leaseTtlMs), '-1', '', '0'],
            ),
      ),
    );
    const won: number[] = [];
    const local: number[] = [];
    await Promise.all(
      replies.map(async (reply, i) => {
        if (reply === FAILED) return local.push(i);
        const got = reply as GetOrLease;
        const kind = got[0];
        if (kind === 2) {
          if (this.#deps.lease) this.#stats.leasesWon++;
          return won.push(i);
        }
        if (kind !== 1) return one(i);
        const found = await this.#served<T>(batch[i]!.id, got[3]!, got[4], got[5]);
        if (found === FAILED) return local.push(i);
        // Gone, or soft-purged past its revalidate window (counted from the purge): loaded alone.
        if (found === undefined || (found.soft && servablePttl(found, got[2]) <= softErrorPart(found)))
          return one(i);
        results[i]!.resolve({ ...found, source: 'redis', pttl: servablePttl(found, got[2]) });
      }),
    );
    won.sort((a, b) => a - b);
    local.sort((a, b) => a - b);
    this.#stats.fallbacks += local.length;
    const seq = won.length === 0 ? FAILED : await this.#sequence();
    // Redis failed: the won keys load locally too (their leases given up), and nothing is written.
    if (seq === FAILED) for (const i of won) void this.#release(batch[i]!.id, leaseIds[i]!, 'released');
    const unfenced = seq === FAILED ? [...local, ...won] : local;
    const fenced = seq === FAILED ? [] : won;
    const wanted = [...unfenced, ...fenced].filter((i) => !batch[i]!.signal.aborted);
    const fencedSet = new Set(fenced);
    const wantedSet = new Set(wanted);
    for (const i of fenced)
      if (batch[i]!.signal.aborted) void this.#release(batch[i]!.id, leaseIds[i]!, 'released');
    if (wanted.length === 0) {
      for (const i of [...unfenced, ...fenced]) results[i]!.reject(batch[i]!.signal.reason);
      return;
    }
    let loaded: Array<Loaded<T> | Error>;
    // The batch's leases are extended while it loads, as a single key's are.
    const held = fenced.filter((i) => !batch[i]!.signal.aborted && leaseIds[i] !== '');
    const heartbeat =
      this.#heartbeat && held.length > 0
        ? setInterval(() => {
            for (const i of held) {
              const id = batch[i]!.id;
              void this.#eval(EXTEND, [this.#keys.lease(id)], [leaseIds[i]!, String(this.#leaseTtlMs)]);
            }
          }, this.#leaseTtlMs / 3)
        : undefined;
    heartbeat?.unref?.();
    try {
      loaded = await loadMany(wanted, whenAllAborted(wanted.map((i) => batch[i]!.signal)));
    } catch (error) {
      clearInterval(heartbeat);
      for (const i of fenced) void this.#release(batch[i]!.id, leaseIds[i]!, 'failed');
      for (const i of wanted) results[i]!.reject(error);
      for (const i of [...unfenced, ...fenced])
        if (!wantedSet.has(i)) results[i]!.reject(batch[i]!.signal.reason);
      return;
    }
    clearInterval(heartbeat);
    await Promise.all(
      wanted.map(async (i, j) => {
        const result = loaded[j]!;
        const key = batch[i]!;
        const isFenced = seq !== FAILED && fencedSet.has(i);
        if (result instanceof Error) {
          if (isFenced) void this.#release(key.id, leaseIds[i]!, 'failed');
          return results[i]!.reject(result);
        }
        if (!isFenced) {
          return results[i]!.resolve({ value: result.value, tagIds: result.tagIds, source: 'fallback' });
        }
        const wrote = await this.#fillOrRelease(key.id, leaseIds[i]!, seq as number, result, life, key);
        // Overtaken by an invalidation in Redis: this key is loaded again, alone.
        if (wrote.outcome === 'overtaken') return one(i);
        results[i]!.resolve({
          value: result.value,
          tagIds: result.tagIds,
          source: 'loaded',
          seq: fenceOf(seq as number, result),
          delta: result.delta,
          rev: wrote.rev,
        });
      }),
    );
    for (const i of [...unfenced, ...fenced])
      if (!wantedSet.has(i)) results[i]!.reject(batch[i]!.signal.reason);
  }

  /**
   * Invalidates keys and tags at one new sequence: each key's fence moves up and its value and
   * lease go, each tag's state moves up, and every other process is told. Resolves false when any
   * step failed (the caller retries the whole: a later sequence only fences more).
   */
  async invalidate(hard: InvalidationIds, soft: InvalidationIds): Promise<boolean> {
    const { keyIds, tagIds } = hard;
    // Outside the circuit: the queue re-sends with its own backoff, and must land as soon as Redis
    // answers again, not a breaker cooldown later (other processes read the old values meanwhile).
    const seq = await this.#sequence(true);
    if (seq === FAILED) return false;
    const args = [String(seq), String(Math.ceil(this.#deps.fenceTtlMs))];
    const calls = [
      ...keyIds.map(
        (id) => () =>
          this.#eval(
            INVALIDATE_KEY,
            [this.#keys.value(id), this.#keys.lease(id), this.#keys.tag(id)],
            args,
            true,
          ),
      ),
      ...tagIds.map((id) => () => this.#eval(INVALIDATE_TAG, [this.#keys.tag(id)], args, true)),
      ...soft.keyIds.map(
        (id) => () => this.#eval(SOFTEN, [this.#keys.soft(id), this.#keys.value(id)], args, true),
      ),
      ...soft.tagIds.map(
        (id) => () => this.#eval(SOFTEN, [this.#keys.soft(id), this.#keys.tag(id)], args, true),
      ),
    ];
    // In chunks: a backlog of thousands of ids (queued through an outage) pipelined at once would
    // keep its last replies past the store deadline, and the round would fail again and again.
    for (let i = 0; i < calls.length; i += INVALIDATION_CHUNK) {
      const done = await Promise.all(calls.slice(i, i + INVALIDATION_CHUNK).map((call) => call()));
      if (done.includes(FAILED)) return false;
    }
    // One message per chunk of ids, so no message grows with the backlog either.
    for (const [kind, ids] of [
      ['i', [...keyIds, ...tagIds]],
      ['s', [...soft.keyIds, ...soft.tagIds]],
    ] as const) {
      for (let i = 0; i < ids.length; i += INVALIDATION_CHUNK) {
        const chunk = ids.slice(i, i + INVALIDATION_CHUNK);
        const published = await this.#guarded(
          () => this.#client.publish(this.#channel, `${kind}|${this.#instance}|${chunk.join(' ')}`),
          true,
        );
        if (published === FAILED) return false;
      }
    }
    // Waiters here on a lease that is gone look again at once.
    for (const id of keyIds) this.#wake(id, 'invalidated');
    return true;
  }

  /** One PING under the store guard: true when Redis answered it (see FlightCache.ping). */
  async ping(): Promise<boolean> {
    return (await this.#guarded(() => this.#client.ping())) !== FAILED;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const mailboxes of this.#mailboxes.values())
      for (const mailbox of mailboxes) mailbox.wake?.('released');
    this.#subscriber.removeAllListeners('error');
    this.#subscriber.on('error', () => {});
    if (this.#subscriber.isOpen) this.#subscriber.destroy();
  }

  /** Redis failed: this process loads alone and writes nothing. */
  async #fallback<T>(load: () => Promise<Loaded<T>>): Promise<FleetFetch<T>> {
    this.#stats.fallbacks++;
    const loaded = await load();
    return { value: loaded.value, tagIds: loaded.tagIds, source: 'fallback' };
  }

  /**
   * A record read from Redis, if it may be served: undefined when a tag of it was invalidated
   * after its load began (the record is dropped there) or this process has an unacknowledged
   * invalidation of one; FAILED when its tags could not be checked.
   */
  async #served<T>(
    id: string,
    raw: string,
    keySoft: string | null | undefined,
    now: number,
  ): Promise<Served<T> | undefined | typeof FAILED> {
    const record = decodeRecord(raw);
    if (record === undefined) return this.#dropUnreadable(id, raw);
    if (record.tagIds.some((tag) => this.#deps.isPending(tag))) return FAILED;
    // The soft purges that came after its load: the first of them is when it became stale.
    let softAt = softSince(keySoft, record.seq);
    if (record.tagIds.length > 0) {
      // Each tag's state and soft state: one MGET of one slot.
      const states = await Promise.all(
        record.tagIds.map((tag) =>
          this.#guarded(() => this.#client.mGet([this.#keys.tag(tag), this.#keys.soft(tag)])),
        ),
      );
      if (states.includes(FAILED)) return FAILED;
      const pairs = states as Array<Array<string | null>>;
      // A tag's state outlives every value filled under it (TAG_CHECK): one that is gone was lost
      // (evicted, flushed), and with it what it knew, so the value is taken as retired.
      if (pairs.some(([seq]) => seq == null || Number(seq) > record.seq)) {
        this.#stats.staleDropped++;
        await this.#eval(DROP_STALE, [this.#keys.value(id)], [record.head]);
        return undefined;
      }
      for (const [, soft] of pairs) {
        const at = softSince(soft, record.seq);
        if (at !== undefined && (softAt === undefined || at < softAt)) softAt = at;
      }
    }
    let value: T;
    try {
      value = decodeStored<T>(record.payload);
    } catch {
      return this.#dropUnreadable(id, raw);
    }
    return {
      value,
      tagIds: record.tagIds,
      seq: record.seq,
      life: { swrMs: record.swrMs, sieMs: record.sieMs },
      delta: record.delta,
      rev: record.rev,
      soft: softAt !== undefined,
      softFor: softAt === undefined ? 0 : Math.max(0, now - softAt),
    };
  }

  /**
   * A value this cache cannot read (not a record, or a payload that does not parse: another
   * version's, or written by hand) is dropped, if Redis still holds it, so the key is a miss that
   * its next load overwrites, instead of being read again and again until the flight's deadline.
   * FAILED when the drop failed: the fetch then loads locally.
   */
  async #dropUnreadable(id: string, raw: string): Promise<undefined | typeof FAILED> {
    const dropped = await this.#eval(DROP_STALE, [this.#keys.value(id)], [raw]);
    return dropped === FAILED ? FAILED : undefined;
  }

  /** The invalidation sequence now: read before a load begins. */
  async #sequence(next = false): Promise<number | typeof FAILED> {
    // 2^40 .. 2^52: far from any number a sequence reached before, and exact as a Lua number.
    const base = String(2 ** 40 + Math.floor(Math.random() * (2 ** 52 - 2 ** 40)));
    const seq = await this.#eval(SEQUENCE, [this.#keys.seq], [next ? '1' : '0', base], next);
    return seq === FAILED ? FAILED : Number(seq);
  }

  async #lead<T>(
    id: string,
    leaseId: string,
    life: Lifetime,
    load: () => Promise<Loaded<T>>,
    signal: AbortSignal,
    keep: (loaded: Loaded<T>) => boolean,
    mode: FetchMode<T>,
    failures: number,
  ): Promise<{ loaded: Loaded<T>; overtaken: boolean; seq?: number; rev?: string }> {
    const leased = leaseId !== '';
    const heartbeat =
      leased && this.#heartbeat
        ? setInterval(() => {
            if (signal.aborted) return clearInterval(heartbeat);
            void this.#eval(EXTEND, [this.#keys.lease(id)], [leaseId, String(this.#leaseTtlMs)]).then(
              (extended) => {
                if (extended === 0) clearInterval(heartbeat); // lost: the fill will be refused
              },
            );
          }, this.#leaseTtlMs / 3)
        : undefined;
    heartbeat?.unref?.();
    let loaded: Loaded<T>;
    let seq: number | typeof FAILED;
    try {
      seq = await this.#sequence();
      loaded = await load();
    } catch (error) {
      clearInterval(heartbeat);
      if (leased && mode.backoff !== undefined && (life.swrMs > 0 || life.sieMs > 0)) {
        // The fleet's next attempt waits out the backoff: the lease stays, marked (MARK_FAILED).
        const n = failures + 1;
        const backoff = Math.ceil(Math.min(mode.backoff.maxMs, mode.backoff.initialMs * 2 ** (n - 1)));
        const keptMs = backoff + Math.ceil(life.ttlMs + Math.max(life.swrMs, life.sieMs));
        await this.#eval(
          MARK_FAILED,
          [this.#keys.lease(id)],
          [leaseId, String(n), String(backoff), String(keptMs), this.#channel, id],
        );
      } else if (leased) await this.#release(id, leaseId, 'failed');
      throw error;
    }
    clearInterval(heartbeat);
    if (seq === FAILED) {
      // The fence could not be read: the value answers this flight and is written nowhere.
      if (leased) await this.#release(id, leaseId, 'released');
      this.#stats.fallbacks++;
      return { loaded, overtaken: false };
    }
    const wrote = await this.#fillOrRelease(id, leaseId, seq, loaded, life, { signal, keep });
    return { loaded, overtaken: wrote.outcome === 'overtaken', seq: fenceOf(seq, loaded), rev: wrote.rev };
  }

  /**
   * Writes a loaded value, fenced: each tag's state is checked (and made to outlive the value),
   * then the key's fence and the lease in the fill itself. 'overtaken': Redis shows an
   * invalidation came after the load began. A value not wanted (`keep`) or late releases the lease.
   */
  async #fillOrRelease<T>(
    id: string,
    leaseId: string,
    seq: number,
    loaded: Loaded<T>,
    life: Lifetime,
    key: { signal: AbortSignal; keep: (loaded: Loaded<T>) => boolean },
  ): Promise<{ outcome: 'filled' | 'refused' | 'overtaken'; rev?: string }> {
    const leased = leaseId !== '';
    if (loaded.localOnly === true) {
      // Made from a value whose freshness Redis cannot vouch for: it answers here, and that is all.
      if (leased) await this.#release(id, leaseId, 'released');
      return { outcome: 'refused' };
    }
    // A value made from other values is only as fresh as its oldest input.
    const fence = fenceOf(seq, loaded);
    if (key.signal.aborted || !key.keep(loaded)) {
      // Not to be stored (late, or invalidated while it loaded): let a waiter elsewhere load afresh.
      if (!key.signal.aborted) this.#stats.fillsRefused++;
      if (leased) await this.#release(id, leaseId, 'released');
      return { outcome: 'refused' };
    }
    // Redis holds it for its TTL and its longer window past it.
    const ttl = Math.ceil(life.ttlMs + Math.max(life.swrMs, life.sieMs));
    const windowed = life.swrMs > 0 || life.sieMs > 0 || life.early;
    // A windowed record names its write, so a refresh elsewhere can tell it from the stale one.
    const rev = windowed ? randomBytes(6).toString('hex') : undefined;
    const guardTtl = String(ttl + Math.ceil(this.#deps.fenceTtlMs));
    // The sequence now, with each tag's state: below the load's own, Redis lost its data since
    // the load began (a restart), and no fence set before that restart is left to trust.
    const [now, ...seqs] = await Promise.all([
      this.#sequence(),
      ...loaded.tagIds.map((tag) =>
        this.#eval(TAG_CHECK, [this.#keys.tag(tag), this.#keys.soft(tag)], [guardTtl]),
      ),
    ]);
    if (now === FAILED || seqs.includes(FAILED)) {
      if (leased) await this.#release(id, leaseId, 'released');
      return { outcome: 'refused' };
    }
    if ((now as number) < seq || seqs.some((tagSeq) => Number(tagSeq) > fence)) {
      this.#stats.fillsRefused++;
      if (leased) await this.#release(id, leaseId, 'released');
      return { outcome: 'overtaken' };
    }
    const filled = await this.#eval(
      FILL,
      [this.#keys.value(id), this.#keys.lease(id), this.#keys.tag(id), this.#keys.soft(id)],
      [
        leaseId,
        String(fence),
        encodeRecord(
          fence,
          loaded.tagIds,
          encodeStored(loaded.value),
          rev === undefined
            ? undefined
            : { swrMs: life.swrMs, sieMs: life.sieMs, delta: loaded.delta ?? 0, rev },
        ),
        String(ttl),
        this.#channel,
        id,
      ],
    );
    if (filled === 1) return { outcome: 'filled', ...(rev === undefined ? {} : { rev }) };
    if (filled === FAILED) return { outcome: 'refused' };
    this.#stats.fillsRefused++;
    return { outcome: filled === -1 ? 'overtaken' : 'refused' };
  }

  async #release(id: string, leaseId: string, why: 'failed' | 'released'): Promise<void> {
    await this.#eval(
      RELEASE,
      [this.#keys.lease(id)],
      [leaseId, this.#channel, why === 'failed' ? 'x' : 'r', id],
    );
  }

  #listen(id: string, mailbox: Mailbox): void {
    let set = this.#mailboxes.get(id);
    if (set === undefined) {
      set = new Set();
      this.#mailboxes.set(id, set);
    }
    set.add(mailbox);
  }

  #unlisten(id: string, mailbox: Mailbox): void {
    const set = this.#mailboxes.get(id);
    if (set === undefined) return;
    set.delete(mailbox);
    if (set.size === 0) this.#mailboxes.delete(id);
  }

  /**
   * A message: `f|id`, `r|id`, `x|id` (a fill, a release, a failed load) wake this process's
   * waiters for the key; `i|<instance>|<ids>` is another process's invalidation, `s|…` its soft purge.
   */
  #deliver(message: string): void {
    const bar = message.indexOf('|');
    if (bar !== 1) return;
    if (message[0] === 'i' || message[0] === 's') {
      const second = message.indexOf('|', 2);
      if (second < 0 || message.slice(2, second) === this.#instance) return;
      const ids = message.slice(second + 1).split(' ');
      this.#deps.onInvalidated(ids, message[0] === 's');
      for (const id of ids) this.#wake(id, 'invalidated');
      return;
    }
    const outcome = OUTCOMES[message[0]!];
    if (outcome !== undefined) this.#wake(message.slice(2), outcome);
  }

  #wake(id: string, outcome: Outcome): void {
    for (const mailbox of this.#mailboxes.get(id) ?? []) {
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

  /**
   * One plain command under the store guard, after the first connection attempt (`outsideCircuit`:
   * made even while the circuit is open, see StoreGuard.run).
   */
  #guarded<T>(call: () => Promise<T>, outsideCircuit = false): Promise<T | typeof FAILED> {
    if (this.#closed) return Promise.resolve(FAILED);
    return this.#deps.guard.run(() => this.#deps.ready.then(call), FAILED, outsideCircuit);
  }

  /** EVALSHA (EVAL when the script cache lost it, e.g. after a restart), under the store guard. */
  #eval(script: string, keys: string[], args: string[], outsideCircuit = false): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex');
      this.#shas.set(script, sha);
    }
    const known = sha;
    return this.#guarded(async () => {
      try {
        return await this.#client.evalSha(known, { keys, arguments: args });
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return this.#client.eval(script, { keys, arguments: args });
      }
    }, outsideCircuit);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A minPttl above any PTTL: every value is a miss (a soft-purged value's refresh). */
const FORCED = Number.MAX_SAFE_INTEGER;

/**
 * What a reader counts a found value's PTTL as: a soft-purged value has no fresh time left, and
 * its windows count from the purge (Redis's time), so they shrink by the time since.
 */
function servablePttl(found: Served<unknown>, pttl: number): number {
  if (!found.soft) return pttl;
  return Math.min(pttl, Math.max(found.life.swrMs, found.life.sieMs) - found.softFor);
}

/** The part of a soft-purged value's servable PTTL past its revalidate window (its error window's rest). */
function softErrorPart(found: Served<unknown>): number {
  return Math.max(0, Math.max(found.life.swrMs, found.life.sieMs) - found.life.swrMs);
}

/** When a soft state `<seq>:<time>` above `seq` was set (Redis's time), or undefined. */
function softSince(soft: string | null | undefined, seq: number): number | undefined {
  if (soft == null) return undefined;
  const colon = soft.indexOf(':');
  const softSeq = Number(colon < 0 ? soft : soft.slice(0, colon));
  if (!(softSeq > seq)) return undefined;
  const at = colon < 0 ? Number.NaN : Number(soft.slice(colon + 1));
  return Number.isFinite(at) ? at : 0;
}

/** GET_OR_LEASE's reply: kind, n, the value's PTTL, the record, the key's soft state, Redis's time. */
type GetOrLease = [number, number, number, string | null, string | null, number];

/** A record read from Redis that may be served, with its soft purge: whether, and for how long. */
type Served<T> = Omit<FleetFound<T>, 'pttl'> & { soft: boolean; softFor: number };

/** A plain fetch: any value found is served as it is. */
const ANY_VALUE: FetchMode<never> = { minPttl: -1, refresh: false };

/** The sequence a loaded value is fenced by: its load's, or its oldest input's when older. */
function fenceOf(seq: number, loaded: Loaded<unknown>): number {
  return loaded.floor === undefined ? seq : Math.min(seq, loaded.floor);
}

/** A signal that aborts once every one of `signals` has aborted (a batch stops when nobody needs it). */
export function whenAllAborted(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  let left = signals.length;
  const onAbort = (signal: AbortSignal) => {
    if (--left === 0) controller.abort(signal.reason);
  };
  for (const signal of signals) {
    if (signal.aborted) onAbort(signal);
    else signal.addEventListener('abort', () => onAbort(signal), { once: true });
  }
  return controller.signal;
}
