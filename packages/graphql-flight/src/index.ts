export {
  type CacheOptions,
  type CacheStats,
  createCache,
  type Fetched,
  FlightCache,
  type Freshness,
  type Invalidation,
  type LoadMany,
  Reads,
  type RememberManyOptions,
  type RememberOptions,
  type Tags,
  type ValueSource,
} from './cache/flight-cache.js';
export type { InvalidationStats } from './cache/invalidation-queue.js';
export {
  DEFAULT_MAX_DEPTH,
  type EncodeValueOptions,
  encodeValue,
  MAX_DEPTH_LIMIT,
} from './cache/encode-value.js';
export {
  type CacheKey,
  EncodedKey,
  encodeKey,
  KeyPrefix,
  type KeyPart,
  MAX_KEY_LENGTH,
} from './cache/keys.js';
export { estimateSize, MAX_ESTIMATE_STEPS } from './store/estimate-size.js';
export { type BreakerState, StoreTimeoutError } from './store/store-guard.js';
export {
  CacheClosedError,
  FlightAbandonedError,
  FlightError,
  type FlightErrorCode,
  FlightTimeoutError,
  InvalidationFailedError,
  InvalidKeyError,
  InvalidOptionError,
  LoadFailedError,
  LoadUndefinedError,
  ValueTooDeepError,
} from './errors.js';
export {
  FleetLease,
  FleetLoadFailedError,
  type FleetOptions,
  type FleetSource,
  type FleetStats,
} from './fleet/redis-lease.js';
export {
  type FlightFn,
  type FlightSnapshot,
  type Joined,
  type RunOptions,
  SingleFlight,
  type SingleFlightOptions,
  type SingleFlightStats,
} from './flight/single-flight.js';
