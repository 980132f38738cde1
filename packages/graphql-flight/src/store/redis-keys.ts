import { createHash, createHmac } from 'node:crypto';

/**
 * The Redis key layout, ready for a cluster, with no cached data's identity in the clear.
 *
 * A logical key `k` (an encoded cache key) and a tag `t` are each named by a digest: the first
 * 22 base64url characters (132 bits) of HMAC-SHA256 under the cache's `secret`, of `k\0<k>` or
 * `t\0<t>` (so a key and a tag never share a digest). Without a secret the digest is a plain
 * SHA-256: nothing is readable, but anyone who can read Redis can confirm a guess (hash a key
 * they think is cached and look for it). Every Redis key of one logical key carries its digest as
 * the hash tag, so each script touches one Redis Cluster slot:
 *
 * - `<ns>:{<key digest>}:v`  the value record (see encodeRecord), with the value's TTL;
 * - `<ns>:{<key digest>}:l`  the fleet lease of the key while one process loads it;
 * - `<ns>:{<digest>}:t`      the sequence number of the last invalidation of the key or tag (its
 *                            fence: a key's is also the tag state of values made from it);
 * - `<ns>:{seq}`             the namespace's invalidation sequence (INCR), Redis's one clock.
 */
export class RedisKeys {
  readonly namespace: string;
  readonly #secret: string | undefined;
  /** The sequence every load start reads and every invalidation increments. */
  readonly seq: string;

  constructor(namespace: string, secret?: string) {
    this.namespace = namespace;
    this.#secret = secret;
    this.seq = `${namespace}:{seq}`;
  }

  /** The digest of a logical key: its id in Redis and in the fleet's messages. */
  keyId(k: string): string {
    return this.#digest('k', k);
  }

  /** The digest of a tag. */
  tagId(tag: string): string {
    return this.#digest('t', tag);
  }

  value(id: string): string {
    return `${this.namespace}:{${id}}:v`;
  }

  lease(id: string): string {
    return `${this.namespace}:{${id}}:l`;
  }

  /** The soft state of a key or tag: the sequence of its last soft purge (see Invalidation.soft). */
  soft(id: string): string {
    return `${this.namespace}:{${id}}:s`;
  }

  /** The state of a key or tag: the sequence of its last invalidation. */
  tag(id: string): string {
    return `${this.namespace}:{${id}}:t`;
  }

  #digest(kind: 'k' | 't', name: string): string {
    const hash = this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
    return hash.update(kind).update('\0').update(name).digest('base64url').slice(0, 22);
  }
}

/**
 * A value as Redis holds it: the invalidation sequence its load began at (with, when it has any,
 * its windows past its TTL, how long its load took and its revision, a random name of this one
 * write: `seq,swr,sie,delta,rev`), the ids of its tags,
 * and the value (one line each; the value is `encodeStored`'s JSON, which holds no raw newline).
 * The sequence comes first so a script can drop exactly the record a reader found stale (`head`).
 */
export interface StoredRecord {
  seq: number;
  tagIds: string[];
  payload: string;
  /** The revalidate and error windows it was written with (ms), and its load's duration (ms). */
  swrMs: number;
  sieMs: number;
  delta: number;
  /** The write's random name (windowed records only): a refresh tells a newer write by it. */
  rev: string | undefined;
  /** The record up to its payload: what identifies this very record. */
  head: string;
}

export function encodeRecord(
  seq: number,
  tagIds: readonly string[],
  payload: string,
  windows?: { swrMs: number; sieMs: number; delta: number; rev: string },
): string {
  const first =
    windows === undefined
      ? String(seq)
      : `${seq},${Math.ceil(windows.swrMs)},${Math.ceil(windows.sieMs)},${Math.ceil(windows.delta)},${windows.rev}`;
  return `${first}\n${tagIds.join(' ')}\n${payload}`;
}

/** The record's parts, or undefined for a string this cache did not write. */
export function decodeRecord(raw: string): StoredRecord | undefined {
  const first = raw.indexOf('\n');
  const second = first < 0 ? -1 : raw.indexOf('\n', first + 1);
  if (second < 0) return undefined;
  const [seqPart, ...rest] = raw.slice(0, first).split(',');
  const seq = Number(seqPart);
  if (!Number.isSafeInteger(seq)) return undefined;
  let swrMs = 0;
  let sieMs = 0;
  let delta = 0;
  let rev: string | undefined;
  if (rest.length > 0) {
    if (rest.length !== 4 || !/^[0-9a-f]{1,32}$/.test(rest[3]!)) return undefined;
    rev = rest[3];
    [swrMs, sieMs, delta] = rest.slice(0, 3).map(Number) as [number, number, number];
    if (![swrMs, sieMs, delta].every((n) => Number.isSafeInteger(n) && n >= 0)) return undefined;
  }
  const tags = raw.slice(first + 1, second);
  return {
    seq,
    tagIds: tags === '' ? [] : tags.split(' '),
    payload: raw.slice(second + 1),
    swrMs,
    sieMs,
    delta,
    rev,
    head: raw.slice(0, second + 1),
  };
}
