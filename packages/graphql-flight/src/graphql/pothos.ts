// The Pothos entry (`graphql-flight/pothos`): registers the plugin with Pothos, and declares its
// options on Pothos's types (global-types.ts). An SDL-only user never loads this file.
import './global-types.js';
import SchemaBuilder from '@pothos/core';
import { PothosCachePolicyPlugin } from './pothos-plugin.js';

export { PothosCachePolicyPlugin } from './pothos-plugin.js';
export type { CachePolicyPluginOptions, FieldCachePolicy } from './pothos-types.js';
export type { CacheScope } from './types.js';

const pluginName = 'cachePolicy';
export default pluginName;

SchemaBuilder.registerPlugin(pluginName, PothosCachePolicyPlugin);
