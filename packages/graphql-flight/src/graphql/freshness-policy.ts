// The freshness options of a field policy beyond its TTL (issue 13), checked the same way for the
// Pothos option, the policies map and `@cacheControl`. Nothing here knows which front end asked.
import { InvalidOptionError } from '../errors.js';

/** A field policy's windows and refresh options, in milliseconds, as the field cache hands them to `remember`. */
export interface FreshnessPolicy {
  /** After the TTL, for this long: callers get the stale value at once while one refresh runs. 0: none. */
  staleWhileRevalidateMs?: number;
  /** After the TTL, for this long: while refreshes fail, the stale value is served instead of the error. 0: none. */
  staleIfErrorMs?: number;
  /**
   * Past the revalidate window, inside the error window: how long a caller waits for the load
   * before it gets the stale value. Needs a `staleIfErrorMs` longer than `staleWhileRevalidateMs`
   * (there is no stale value to answer with otherwise).
   */
  softTimeoutMs?: number;
  /** XFetch early refresh of hot keys; `beta` (> 0, default 1) makes it earlier. */
  earlyRefresh?: { beta?: number };
}

/** The option names of FreshnessPolicy, and `earlyRefresh.beta`. */
export type FreshnessOption = keyof FreshnessPolicy | 'earlyRefresh.beta';

/** The keys a FreshnessPolicy may have (for a front end that refuses unknown keys). */
export const FRESHNESS_KEYS: readonly (keyof FreshnessPolicy)[] = [
  'staleWhileRevalidateMs',
  'staleIfErrorMs',
  'softTimeoutMs',
  'earlyRefresh',
];

/** How a front end names its options in errors. */
export interface FreshnessNames {
  /** The full option name of an error (`Query.top cache.softTimeoutMs`). */
  option: (name: FreshnessOption) => string;
  /** The short name another option's error mentions (`staleIfErrorMs`). Default: the name itself. */
  short?: (name: FreshnessOption | 'ttlMs') => string;
}

/**
 * The freshness options of one policy, checked, with only the keys it sets: each window a
 * non-negative, finite number of milliseconds; `softTimeoutMs` a positive one, and only with a
 * `staleIfErrorMs` longer than `staleWhileRevalidateMs`; `earlyRefresh` an object whose `beta`,
 * when given, is a positive, finite number. Any of them needs a `ttlMs` > 0 in the same policy: a
 * window follows a fresh period, and a policy that caches nothing has none. Throws
 * InvalidOptionError naming the option (`names.option`).
 */
export function checkFreshness(
  values: Readonly<Partial<Record<keyof FreshnessPolicy, unknown>>>,
  ttlMs: number | undefined,
  names: FreshnessNames,
): FreshnessPolicy {
  const short = names.short ?? ((name: string) => name);
  const checked: FreshnessPolicy = {};
  for (const name of ['staleWhileRevalidateMs', 'staleIfErrorMs'] as const) {
    const value = values[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidOptionError(
        names.option(name),
        'a non-negative, finite number of milliseconds',
        value,
      );
    }
    checked[name] = value;
  }
  const { softTimeoutMs, earlyRefresh } = values;
  if (softTimeoutMs !== undefined) {
    if (typeof softTimeoutMs !== 'number' || !Number.isFinite(softTimeoutMs) || softTimeoutMs <= 0) {
      throw new InvalidOptionError(
        names.option('softTimeoutMs'),
        `a positive, finite number of milliseconds (to answer stale at once, use ${short('staleWhileRevalidateMs')})`,
        softTimeoutMs,
      );
    }
    // The soft timeout answers with the stale value of the error window past the revalidate window.
    if ((checked.staleIfErrorMs ?? 0) <= (checked.staleWhileRevalidateMs ?? 0)) {
      throw new InvalidOptionError(
        names.option('softTimeoutMs'),
        `absent unless ${short('staleIfErrorMs')} is longer than ${short('staleWhileRevalidateMs')} (after the timeout the caller gets the stale value of that error window; without one there is none)`,
        softTimeoutMs,
      );
    }
    checked.softTimeoutMs = softTimeoutMs;
  }
  if (earlyRefresh !== undefined) {
    if (typeof earlyRefresh !== 'object' || earlyRefresh === null || Array.isArray(earlyRefresh)) {
      throw new InvalidOptionError(names.option('earlyRefresh'), 'an object ({ beta })', earlyRefresh);
    }
    for (const key of Object.keys(earlyRefresh)) {
      if (key !== 'beta') {
        throw new InvalidOptionError(`${names.option('earlyRefresh')}.${key}`, 'absent (not beta)', key);
      }
    }
    const { beta } = earlyRefresh as { beta?: unknown };
    if (beta !== undefined && (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0)) {
      throw new InvalidOptionError(names.option('earlyRefresh.beta'), 'a positive, finite number', beta);
    }
    checked.earlyRefresh = beta === undefined ? {} : { beta };
  }
  if (Object.keys(checked).length > 0 && !(ttlMs !== undefined && ttlMs > 0)) {
    const name = Object.keys(checked)[0] as keyof FreshnessPolicy;
    throw new InvalidOptionError(
      names.option(name),
      `absent without a ${short('ttlMs')} > 0 in the same policy (a window follows the fresh period)`,
      values[name],
    );
  }
  return checked;
}

/** The windows of `freshness` that a stored response shares (published in the field's hint): those it sets. */
export function responseWindows(
  freshness: FreshnessPolicy | undefined,
): Pick<FreshnessPolicy, 'staleWhileRevalidateMs' | 'staleIfErrorMs'> {
  const windows: Pick<FreshnessPolicy, 'staleWhileRevalidateMs' | 'staleIfErrorMs'> = {};
  if (freshness?.staleWhileRevalidateMs !== undefined)
    windows.staleWhileRevalidateMs = freshness.staleWhileRevalidateMs;
  if (freshness?.staleIfErrorMs !== undefined) windows.staleIfErrorMs = freshness.staleIfErrorMs;
  return windows;
}
