export {
  type ApplyCachePoliciesOptions,
  applyCachePolicies,
  type CachePolicyEntry,
} from './apply-cache-policies.js';
export { cacheControlDirective } from './cache-control.js';
export {
  defaultKeyParts,
  type FieldKeyEncoder,
  fieldCacheKey,
  fieldKeyEncoder,
  NO_ARGUMENTS,
} from './field-key.js';
export { type EntityKeys, type EntityPlan, entityPlan, entityTag } from './entity-tags.js';
export type { CachePolicyExtension, ResponsePolicy } from './response-policy.js';
export {
  invalidateAfterWrite,
  pendingInvalidation,
  readsOf,
  typeTag,
  valueEntityTags,
} from './response-tags.js';
export { POLICY_EXTENSION, responsePolicy } from './response-policy.js';
export type { CacheScope } from './types.js';
export {
  type CacheOutcome,
  type FrontDoorAnswer,
  invalidationPending,
  type NodeYoga,
  invalidateResponses,
  OperationCoalescing,
  type OperationCoalescingOptions,
  type OperationStats,
  type ResponseCacheOptions,
  useOperationCoalescing,
  useResponseCache,
} from './use-operation-coalescing.js';
