/**
 * graphql-flight under HTTP load: graphql-yoga + a Pothos schema with the cachePolicy plugin
 * (`cache: { ttlMs }` on Query.hot) over createCache(), i.e. the field cache with process-wide
 * coalescing. BENCH_MODE picks what runs in front of it:
 *
 * - `response` (default): OperationCoalescing with `responseCache: { cache }` over the same
 *   FlightCache, served as src/main.ts serves it: the plugin inside Yoga and its node:http front
 *   door (`nodeListener`) in front, so a repeat of the public hot query is answered from the
 *   stored response (`X-Cache: HIT`) before whatwg-node or any Yoga hook runs;
 * - `plugin`: the same plugin inside Yoga only (no front door): a hit is answered in Yoga's
 *   onRequest hook, as on any runtime Yoga serves;
 * - `coalescing`: useOperationCoalescing() without a response cache: identical concurrent
 *   operations execute once, every request still parses, validates and executes;
 * - `field`: no plugin, the field cache only.
 *
 * BENCH_SWR_MS, when set, gives Query.hot a revalidate window (`cache: { ttlMs,
 * staleWhileRevalidateMs }`): past its TTL the field, and the stored response built from it, are
 * answered stale while one refresh runs (the http-steady revalidate row).
 *
 * graphql-yoga, @pothos/core and graphql are the root project's (resolved as src/ resolves them),
 * never bench/node_modules' copies, so one graphql runs in this process.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import SchemaBuilder from '@pothos/core';
import type * as Yoga from '../../node_modules/graphql-yoga/typings/index.js';
import { createCache, type FlightCache } from '../../packages/graphql-flight/src/cache/flight-cache.js';
import CachePolicyPlugin from '../../packages/graphql-flight/src/graphql/pothos.js';
import {
  OperationCoalescing,
  useOperationCoalescing,
} from '../../packages/graphql-flight/src/graphql/use-operation-coalescing.js';
import { announce, fetchHot, type HotValue, TTL_MS } from './common.js';

// A bare 'graphql-yoga' here would resolve to bench/node_modules (and its own graphql): resolve
// from the root package instead. '@pothos/core' exists only in the root node_modules.
const rootRequire = createRequire(new URL('../../package.json', import.meta.url));
const { createYoga } = rootRequire('graphql-yoga') as typeof Yoga;

const MODES = ['response', 'plugin', 'coalescing', 'field'] as const;
type Mode = (typeof MODES)[number];
const mode = (process.env.BENCH_MODE ?? 'response') as Mode;
if (!MODES.includes(mode)) {
  throw new Error(`BENCH_MODE must be one of ${MODES.join(', ')} (got ${JSON.stringify(mode)})`);
}

const SWR_MS = process.env.BENCH_SWR_MS === undefined ? undefined : Number(process.env.BENCH_SWR_MS);
if (SWR_MS !== undefined && !(SWR_MS >= 0)) {
  throw new Error(`BENCH_SWR_MS must be a number of milliseconds (got ${process.env.BENCH_SWR_MS})`);
}

interface Context {
  cache: FlightCache;
}

const cache = createCache();
const builder = new SchemaBuilder<{ Context: Context }>({
  plugins: [CachePolicyPlugin],
  cachePolicy: { cache: (context) => context.cache, viewer: () => null },
});
const Hot = builder.objectRef<HotValue>('Hot').implement({
  fields: (t) => ({
    total: t.exposeInt('total'),
    updatedAt: t.exposeString('updatedAt'),
  }),
});
builder.queryType({
  fields: (t) => ({
    hot: t.field({
      type: Hot,
      cache: SWR_MS === undefined ? { ttlMs: TTL_MS } : { ttlMs: TTL_MS, staleWhileRevalidateMs: SWR_MS },
      resolve: () => fetchHot(),
    }),
  }),
});

// The response mode serves as src/main.ts does: the plugin in Yoga, and its front door in front.
const responses = new OperationCoalescing({ responseCache: { cache } });
const yoga = createYoga<Record<string, unknown>, Context>({
  schema: builder.toSchema(),
  graphiql: false,
  landingPage: false,
  logging: false,
  context: () => ({ cache }),
  plugins:
    mode === 'response' || mode === 'plugin'
      ? [responses.plugin()]
      : mode === 'coalescing'
        ? [useOperationCoalescing()]
        : [],
});
const server = createServer(mode === 'response' ? responses.nodeListener(yoga) : yoga);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce(server, () => cache.close()));
