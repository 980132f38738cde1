/**
 * HTTP, reads under writes: `product(id)` over 1,000 products in a simulated database (an
 * in-process Map, 2 to 5 ms per counted read), read under autocannon with 100 connections by ids
 * skewed towards a few hot ones (Zipf, s = 1, seeded), while a writer in this process changes 20
 * prices a second through `updateProductPrice` and, once each write has answered, reads that
 * product back the way the readers do: a price other than the one just written is a stale read.
 * graphql-flight (response cache over the field cache), graphql-yoga with its response cache and
 * mercurius with mercurius-cache, each in a fresh process, each invalidating on the mutation its
 * own way, all with one TTL. Each system is also measured without the writer, for its hit ratio
 * (1 - database reads / reads served) without writes. Goals come from the rows just measured.
 */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import autocannon from 'autocannon';
import {
  FLIGHT,
  failedRow,
  MERCURIUS,
  type SystemDef,
  spawn,
  stop,
  throwIfAllFailed,
  YOGA_RESPONSE_CACHE,
} from '../lib/http.js';
import { medianRow, sleep } from '../lib/stats.js';
import type { BenchContext, Goal, Row, Scenario, ScenarioResult } from '../lib/types.js';
import { initialPrice, PRODUCTS } from '../servers/products-common.js';

const ID = 'write-mix';
const TITLE = 'HTTP, product reads under price writes';
/** The TTL every system caches a product for: longer than a system's whole run (checked below). */
const TTL_MS = 60_000;
const CONNECTIONS = 100;
const WRITES_PER_SECOND = 20;
/** Zipf exponent of the ids read and written: with s = 1 the 200 hottest of 1,000 get ~78%. */
const ZIPF_S = 1;
/** Deadline of each request the writer, the checker and the checks send. */
const TIMEOUT_MS = 5_000;
/** Every price the writer sets is at least this, above every initial price, and never repeats. */
const FIRST_WRITTEN_PRICE = 1_000_000;

const READ = 'query($id: ID!) { product(id: $id) { id priceCents } }';
const WRITE =
  'mutation($id: ID!, $priceCents: Int!) { updateProductPrice(id: $id, priceCents: $priceCents) { id priceCents } }';
/** Readers, checker and checks send the same headers (a cache may vary on them). */
const HEADERS = { 'content-type': 'application/json', accept: 'application/json' };
/** The body of the read of product i + 1: one per product, built once, the same for everyone. */
const READ_BODIES = Array.from({ length: PRODUCTS }, (_, i) =>
  Buffer.from(JSON.stringify({ query: READ, variables: { id: String(i + 1) } })),
);

const SYSTEMS: readonly SystemDef[] = [
  {
    system: FLIGHT,
    file: 'products-graphql-flight',
    hitHeader: { name: 'x-cache', value: 'HIT' },
    note:
      `graphql-yoga + Pothos \`cache: { ttlMs: ${TTL_MS} }\` on Query.product over createCache(), and ` +
      'OperationCoalescing with responseCache over the same FlightCache behind its node:http front door; the ' +
      "mutation's result (a Product) retires `Product:<id>` before it answers: that product's field-cache entry " +
      'and the stored responses holding it, nothing else',
  },
  {
    system: YOGA_RESPONSE_CACHE,
    file: 'products-yoga-response-cache',
    note:
      `@graphql-yoga/plugin-response-cache, session null (public), ttl ${TTL_MS} ms, default in-memory cache ` +
      '(1,000 entries: the 1,000 product responses fit); invalidates the Product entities of mutation results ' +
      'by itself',
  },
  {
    system: MERCURIUS,
    file: 'products-mercurius',
    note:
      `fastify + mercurius, mercurius-cache policy on Query.product, ttl ${TTL_MS / 1_000} s, memory storage ` +
      "with invalidation: each product cached with reference `product:<id>`, which the mutation's " +
      '`invalidate` drops once its resolver has written',
  },
];

/** mulberry32: a small seeded PRNG, so every system is sent the same ids in the same order. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Cumulative Zipf weights of products 1..PRODUCTS (product 1 the hottest). */
const ZIPF_CDF = (() => {
  const weights = Array.from({ length: PRODUCTS }, (_, i) => 1 / (i + 1) ** ZIPF_S);
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((weight) => (sum += weight / total));
})();

/** Product ids (1..PRODUCTS) drawn from the Zipf distribution, seeded. */
function zipf(seed: number): () => number {
  const next = random(seed);
  return () => {
    const u = next();
    let lo = 0;
    let hi = PRODUCTS - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ZIPF_CDF[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** A good answer to READ: a product with its price and no `errors`. */
function goodRead(body: string | Buffer | undefined): boolean {
  const text = typeof body === 'string' ? body : (body?.toString() ?? '');
  return text.includes('"priceCents":') && !text.includes('"errors"');
}

interface Reply {
  status: number;
  text: string;
  headers: IncomingHttpHeaders;
}

/** One POST /graphql with HEADERS over `agent`, bounded by TIMEOUT_MS; rejects on a failure. */
function post(agent: Agent, port: number, body: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        headers: { ...HEADERS, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The price in a reply to READ (`product`) or WRITE (`updateProductPrice`); undefined if none. */
function priceOf(reply: Reply, field: 'product' | 'updateProductPrice'): number | undefined {
  if (reply.status !== 200) return undefined;
  try {
    const parsed = JSON.parse(reply.text) as {
      data?: Record<string, { priceCents?: unknown } | null>;
      errors?: unknown;
    };
    const price = parsed.errors === undefined ? parsed.data?.[field]?.priceCents : undefined;
    return typeof price === 'number' ? price : undefined;
  } catch {
    return undefined;
  }
}

interface ProductSystem {
  port: number;
  /** Database reads so far (one IPC round trip, bounded). */
  reads(): Promise<number>;
  /** Database reads once the count has stopped moving: polled every 150 ms until two equal readings, at most 5 s. */
  settledReads(): Promise<number>;
  close(): Promise<void>;
}

/** Starts a fresh server of `def` (it holds its own database). */
async function startProducts(def: SystemDef): Promise<ProductSystem> {
  const { child, port } = await spawn(def.file, { ...def.env, BENCH_TTL_MS: String(TTL_MS) });
  const reads = () =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${def.file}: no count within 2 s`)), 2_000);
      const onMessage = (message: { type?: string; reads?: number }) => {
        if (message?.type === 'count' && typeof message.reads === 'number') done(undefined, message.reads);
      };
      const done = (error?: Error, value?: number) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (error) reject(error);
        else resolve(value!);
      };
      child.on('message', onMessage);
      child.send({ type: 'count' });
    });
  return {
    port,
    reads,
    async settledReads() {
      let last = await reads();
      const deadline = performance.now() + 5_000;
      for (let equal = 0; equal < 2 && performance.now() < deadline; ) {
        await sleep(150);
        const now = await reads();
        equal = now === last ? equal + 1 : 0;
        last = now;
      }
      return last;
    },
    close: () => stop(child),
  };
}

/** The readers: one autocannon run of READ for Zipf-drawn ids; bounded by its duration, with a hard stop 15 s past it. */
function readers(port: number, seconds: number, seed: number): Promise<autocannon.Result> {
  const next = zipf(seed);
  return new Promise((resolve, reject) => {
    let guard: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/graphql`,
        method: 'POST',
        headers: HEADERS,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        verifyBody: goodRead,
        requests: [{ setupRequest: (req) => ({ ...req, body: READ_BODIES[next() - 1]! }) }],
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) reject(error);
        else resolve(result);
      },
    );
    guard = setTimeout(() => instance.stop(), (seconds + 15) * 1_000);
  });
}

interface WriterTotals {
  /** Mutations answered with the price written. */
  writes: number;
  /** Reads the checker sent (served by the server like any read, so part of the hit ratio). */
  checks: number;
  /** Checker reads answered with another price than the one just written. */
  stale: number;
  /** Mutations or checker reads that failed or gave no price. */
  errors: number;
}

const NO_WRITES: WriterTotals = { writes: 0, checks: 0, stale: 0, errors: 0 };

/**
 * The writer and its checker, for `seconds`: at most WRITES_PER_SECOND x seconds writes, one every
 * 1/WRITES_PER_SECOND s (none started past the deadline), each to a Zipf-drawn product no other
 * write is still on (so the check after it can only see this write's price or an older one). Each
 * sets a price never used before; once its answer has arrived, the checker reads the product once.
 * Resolves when every write and check has ended (each bounded by TIMEOUT_MS).
 */
async function writer(
  port: number,
  seconds: number,
  seed: number,
  prices: { next: number },
): Promise<WriterTotals> {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const totals = { ...NO_WRITES };
  const pick = zipf(seed);
  const busy = new Set<number>();
  const chains: Array<Promise<void>> = [];
  const writeThenCheck = async (id: number, price: number) => {
    try {
      const body = JSON.stringify({ query: WRITE, variables: { id: String(id), priceCents: price } });
      if (priceOf(await post(agent, port, body), 'updateProductPrice') !== price) {
        totals.errors++;
        return;
      }
      totals.writes++;
      totals.checks++;
      const seen = priceOf(await post(agent, port, READ_BODIES[id - 1]!), 'product');
      if (seen === undefined) totals.errors++;
      else if (seen !== price) totals.stale++;
    } catch {
      totals.errors++;
    }
  };
  try {
    const started = performance.now();
    const deadline = started + seconds * 1_000;
    for (let i = 0; i < WRITES_PER_SECOND * seconds; i++) {
      const wait = started + (i * 1_000) / WRITES_PER_SECOND - performance.now();
      if (wait > 0) await sleep(wait);
      if (performance.now() >= deadline) break;
      let id = pick();
      for (let tries = 0; busy.has(id) && tries < 100; tries++) id = pick();
      if (busy.has(id)) continue;
      busy.add(id);
      chains.push(writeThenCheck(id, prices.next++).finally(() => busy.delete(id)));
    }
    await Promise.all(chains);
    return totals;
  } finally {
    agent.destroy();
  }
}

/**
 * Before anything is measured, every system the same way: a read of product 1 (its initial price),
 * a repeat that must not reach the database (and must carry `hitHeader` where one is named), a
 * write of the coldest product, then one read of every product, so every cache holds all 1,000.
 */
async function checkAndFill(def: SystemDef, system: ProductSystem, prices: { next: number }): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 25 });
  try {
    const first = await post(agent, system.port, READ_BODIES[0]!);
    if (priceOf(first, 'product') !== initialPrice(1)) {
      throw new Error(`${def.system}: product 1 answered ${first.status}: ${first.text.slice(0, 300)}`);
    }
    const before = await system.settledReads();
    const repeat = await post(agent, system.port, READ_BODIES[0]!);
    const reads = (await system.settledReads()) - before;
    if (priceOf(repeat, 'product') === undefined || reads !== 0) {
      throw new Error(
        `${def.system}: a repeated read made ${reads} database read(s), answered ${repeat.text}`,
      );
    }
    if (def.hitHeader !== undefined && repeat.headers[def.hitHeader.name] !== def.hitHeader.value) {
      throw new Error(
        `${def.system}: a repeated read was answered with ${def.hitHeader.name}: ` +
          `${repeat.headers[def.hitHeader.name] ?? '(none)'}, not ${def.hitHeader.value}`,
      );
    }
    const price = prices.next++;
    const write = await post(
      agent,
      system.port,
      JSON.stringify({ query: WRITE, variables: { id: String(PRODUCTS), priceCents: price } }),
    );
    if (priceOf(write, 'updateProductPrice') !== price) {
      throw new Error(`${def.system}: the mutation answered ${write.status}: ${write.text.slice(0, 300)}`);
    }
    let next = 0;
    const filler = async () => {
      while (next < PRODUCTS) {
        const reply = await post(agent, system.port, READ_BODIES[next++]!);
        if (priceOf(reply, 'product') === undefined) {
          throw new Error(`${def.system}: a read answered ${reply.status}: ${reply.text.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 25 }, filler));
  } finally {
    agent.destroy();
  }
}

/** Reader errors of one autocannon run: socket errors and timeouts + the larger of non-2xx and bad bodies. */
function readerErrors(result: autocannon.Result): number {
  return result.errors + Math.max(result.non2xx, result.mismatches);
}

/**
 * One system: a fresh process, checkAndFill, a reader warm-up, ctx.rounds rounds of readers only,
 * then ctx.rounds rounds of readers with the writer (the same reader ids round by round).
 */
async function measure(def: SystemDef, ctx: BenchContext, seconds: number, warmup: number): Promise<Row> {
  ctx.progress(`${ID}: ${def.system}: starting`);
  const system = await startProducts(def);
  const prices = { next: FIRST_WRITTEN_PRICE };
  try {
    const filled = performance.now();
    await checkAndFill(def, system, prices);
    ctx.progress(`${ID}: ${def.system}: warm-up (${warmup} s)`);
    let errors = readerErrors(await readers(system.port, warmup, 1));
    const readOnly: Array<Record<string, number | null>> = [];
    const mixed: Array<Record<string, number | null>> = [];
    let stale = 0;
    let writes = 0;
    let checks = 0;
    for (const withWrites of [false, true]) {
      for (let round = 1; round <= ctx.rounds; round++) {
        ctx.progress(
          `${ID}: ${def.system}: ${withWrites ? 'reads + writes' : 'reads only'}, round ${round}/${ctx.rounds} ` +
            `(${seconds} s, ${CONNECTIONS} connections)`,
        );
        const before = await system.settledReads();
        const [result, written] = await Promise.all([
          readers(system.port, seconds, 100 + round),
          withWrites ? writer(system.port, seconds, 200 + round, prices) : NO_WRITES,
        ]);
        const reads = (await system.settledReads()) - before;
        const served = result.requests.sent + written.checks;
        errors += readerErrors(result) + written.errors;
        stale += written.stale;
        writes += written.writes;
        checks += written.checks;
        const figures = {
          rps: result.requests.average,
          p99: result.latency.p99,
          hit: served === 0 ? null : 1 - reads / served,
        };
        (withWrites ? mixed : readOnly).push(figures);
      }
    }
    const elapsed = performance.now() - filled;
    if (elapsed >= TTL_MS) {
      throw new Error(
        `${def.system}: measured for ${Math.round(elapsed / 1_000)} s, past the TTL: entries expired`,
      );
    }
    const alone = medianRow(readOnly);
    const together = medianRow(mixed);
    return {
      system: def.system,
      values: {
        rps: together.rps ?? null,
        p99: together.p99 ?? null,
        hitWrites: together.hit ?? null,
        hitReads: alone.hit ?? null,
        rpsReads: alone.rps ?? null,
        stale,
        writes,
        checks,
        errors,
      },
      note: def.note,
    };
  } finally {
    await system.close();
  }
}

const KEYS = ['rps', 'p99', 'hitWrites', 'hitReads', 'rpsReads', 'stale', 'writes', 'checks', 'errors'];

export const scenario: Scenario = {
  id: ID,
  title: TITLE,
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const seconds = ctx.quick ? 2 : 5;
    const warmup = ctx.quick ? 1 : 2;
    // No entry may expire while a system is measured: its load must leave room (settling, the fill)
    // within the TTL; measure() also checks the time it really took.
    const measuredSeconds = warmup + 2 * ctx.rounds * seconds;
    if (measuredSeconds * 1_000 > TTL_MS * 0.75) {
      throw new Error(`${ID}: ${measuredSeconds} s of load per system is too close to the ${TTL_MS} ms TTL`);
    }
    const rows: Row[] = [];
    for (const def of SYSTEMS) {
      try {
        rows.push(await measure(def, ctx, seconds, warmup));
      } catch (error) {
        rows.push(failedRow(def, error, KEYS));
      }
    }
    throwIfAllFailed(rows);
    const staleNote = (system: string) => {
      const stale = find(rows, system, 'stale');
      const checks = find(rows, system, 'checks');
      return stale === null
        ? `${system}: not measured`
        : `${system}: ${stale} stale read(s) in ${checks} checked write(s)`;
    };
    return {
      id: ID,
      title: TITLE,
      goals: [staleGoal(rows), hitGoal(rows, 0.9), rpsGoal(rows, YOGA_RESPONSE_CACHE, 1.5)],
      description:
        `\`${READ}\` over ${PRODUCTS.toLocaleString('en-US')} products in a simulated database (an in-process ` +
        'Map, 2 to 5 ms per counted read), under autocannon with ' +
        `${CONNECTIONS} connections asking for Zipf-distributed ids (s = ${ZIPF_S}, seeded), ${seconds} s per ` +
        `round; while a writer in the bench process sets ${WRITES_PER_SECOND} prices a second (ids from the same ` +
        'distribution) and, once each write has answered, reads that product back as the readers do: a price ' +
        'other than the one just written is a stale read. Every system in a fresh process, filled with one ' +
        `read of every product and warmed for ${warmup} s, then ${ctx.rounds} round(s) of readers only and ` +
        `${ctx.rounds} with the writer; TTL ${TTL_MS / 1_000} s everywhere. req/s and p99 are the readers' ` +
        'with the writer; hit ratio = 1 - database reads / reads served (readers + checker).',
      baseline: YOGA_RESPONSE_CACHE,
      metrics: [
        { key: 'rps', label: 'req/s', better: 'higher', ratio: true },
        { key: 'p99', label: 'p99 ms', better: 'lower' },
        { key: 'hitWrites', label: 'hit ratio, writes', better: 'higher', digits: 4 },
        { key: 'hitReads', label: 'hit ratio, no writes', better: 'higher', digits: 4 },
        { key: 'rpsReads', label: 'req/s, no writes', better: 'higher' },
        { key: 'stale', label: 'stale reads (all rounds)', better: 'lower' },
        { key: 'writes', label: 'writes (all rounds)', better: 'higher' },
        { key: 'errors', label: 'errors (all rounds)', better: 'lower' },
      ],
      rows,
      notes: [
        `Stale reads per system: ${SYSTEMS.map((def) => staleNote(def.system)).join('; ')}.`,
        `The writer aims at ${WRITES_PER_SECOND * seconds} writes per round; it shares this process with ` +
          'autocannon, so a late timer means fewer writes (the writes column says how many were answered). ' +
          'Each written price is new, and no two writes to one product overlap, so any other price the check ' +
          'reads is older than the write that had just answered.',
        'The writer and checker send their own requests over their own connections: neither is in req/s or p99; ' +
          "the checker reads are in the hit ratio (their database reads cannot be told from the readers').",
        `The TTL (${TTL_MS / 1_000} s) outlasts each system's whole run, so every database read after the fill ` +
          'comes from an invalidation (or a cache bound): without writes the hit ratio is close to 1.',
        `${FLIGHT}: invalidation is by entity (\`Product:<id>\`, from the mutation's result), so a write ` +
          'retires only the written product: every other stored response stays a hit.',
        'Errors: socket errors, timeouts, non-2xx responses and bodies without a price or with GraphQL `errors`, ' +
          'from readers, writer and checker.',
        "Client, writer and servers share this machine's cores; ratios hold better than absolute figures.",
      ],
      chart: [
        { metric: 'rps', title: 'req/s with writes (higher is better)' },
        { metric: 'stale', title: 'stale reads (lower is better)' },
      ],
    };
  },
};

function find(rows: readonly Row[], system: string, key: string): number | null {
  return rows.find((row) => row.system === system)?.values[key] ?? null;
}

/** `${FLIGHT}`: no stale read in any round. */
function staleGoal(rows: readonly Row[]): Goal {
  const stale = find(rows, FLIGHT, 'stale');
  const checks = find(rows, FLIGHT, 'checks');
  return {
    text: `${FLIGHT}: 0 stale reads`,
    met: stale === 0 && checks !== null && checks > 0,
    detail: stale === null ? 'not measured' : `${stale} stale read(s) in ${checks} checked write(s)`,
  };
}

/** `${FLIGHT}`: hit ratio with writes >= factor x its hit ratio without. */
function hitGoal(rows: readonly Row[], factor: number): Goal {
  const text = `${FLIGHT}: hit ratio with writes >= ${factor.toFixed(1)}x its hit ratio without`;
  const mixed = find(rows, FLIGHT, 'hitWrites');
  const alone = find(rows, FLIGHT, 'hitReads');
  if (mixed === null || alone === null || alone <= 0) {
    return { text, met: false, detail: `not measured (with: ${mixed ?? 'n/a'}, without: ${alone ?? 'n/a'})` };
  }
  return {
    text,
    met: mixed >= factor * alone,
    detail: `${(mixed / alone).toFixed(3)}x (${mixed.toFixed(4)} vs ${alone.toFixed(4)})`,
  };
}

/** `${FLIGHT}` req/s with writes >= factor x `other`'s, from the measured rows. */
function rpsGoal(rows: readonly Row[], other: string, factor: number): Goal {
  const text = `${FLIGHT} req/s with writes >= ${factor.toFixed(1)}x ${other}`;
  const flight = find(rows, FLIGHT, 'rps');
  const base = find(rows, other, 'rps');
  if (flight === null || base === null || base <= 0) {
    return {
      text,
      met: false,
      detail: `not measured (${FLIGHT}: ${flight ?? 'n/a'}, ${other}: ${base ?? 'n/a'})`,
    };
  }
  const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
  return {
    text,
    met: flight >= factor * base,
    detail: `${(flight / base).toFixed(2)}x (${fmt(flight)} vs ${fmt(base)} req/s)`,
  };
}
