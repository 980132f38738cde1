/**
 * PUBLIC: one entry shared by every requester. PRIVATE: one entry per verified viewer, and no
 * caching at all (the resolver simply runs) when the request has no viewer.
 */
export type CacheScope = 'PUBLIC' | 'PRIVATE';
