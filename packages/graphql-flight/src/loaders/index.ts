export { type CachedLoaderOptions, createCachedLoader, loaderCacheKey } from './cached-loader.js';
