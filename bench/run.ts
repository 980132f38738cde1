/**
 * `npm run bench` (`-- --quick` for a smoke run, `-- --only id,id` for some scenarios): runs every
 * scenario in one process, one after the other, with a progress line; prints one table per
 * scenario (medians of rounds, ratios to the scenario's baseline, goals met or not); writes
 * bench/results/<date>.json, <date>.md (date, Node, CPU, versions of every package measured)
 * and <date>.svg (origin calls and req/s per system, rendered by Vega). Quick runs write
 * bench/results/quick-<date>.*, `--only` runs partial-<date>.* (neither is committed).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { renderChart } from './lib/chart.js';
import { createContext } from './lib/context.js';
import type { Scenario, ScenarioResult } from './lib/types.js';

/** Run order: cheap library scenarios first, process-spawning ones last. */
const SCENARIOS = [
  'cold-stampede',
  'hot-hits',
  'expiry',
  'early-refresh',
  'unique-keys',
  'batches',
  'origin-outage',
  'fleet',
  'fleet-expiry',
  'http-steady',
  'http-burst',
  'write-mix',
];

/** Packages whose versions the report states (the systems measured and what they run on). */
const MEASURED = {
  root: [
    'keyv',
    '@keyv/redis',
    'lru-cache',
    'dataloader',
    'graphql',
    'graphql-yoga',
    '@pothos/core',
    'autocannon',
    'tinybench',
  ],
  bench: [
    'async-cache-dedupe',
    'bentocache',
    'cacheable',
    'keyv',
    'dataloader',
    'graphql-yoga',
    '@graphql-yoga/plugin-response-cache',
    'fastify',
    'mercurius',
    'mercurius-cache',
    'ioredis',
    'vega',
  ],
};

const argv = process.argv.slice(2);
const onlyIndex = argv.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((argv[onlyIndex + 1] ?? '').split(',')) : undefined;
const ctx = await createContext(argv);
const started = new Date();
const results: ScenarioResult[] = [];
let failures = 0;

for (const id of SCENARIOS.filter((name) => only === undefined || only.has(name))) {
  const t0 = performance.now();
  ctx.progress(`${id}: starting`);
  let result: ScenarioResult;
  try {
    const { scenario } = (await import(`./scenarios/${id}.ts`)) as { scenario: Scenario };
    result = await scenario.run(ctx);
  } catch (error) {
    failures++;
    result = {
      id,
      title: id,
      description: '',
      baseline: '',
      metrics: [],
      rows: [],
      skipped: `FAILED: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  ctx.progress('');
  // A system that could not be measured fails the run, even if the others were.
  failures += result.rows.filter((row) => row.failed !== undefined).length;
  results.push(result);
  console.log(renderText(result, (performance.now() - t0) / 1000));
}

const environment = {
  date: started.toISOString(),
  quick: ctx.quick,
  rounds: ctx.rounds,
  node: process.version,
  cpu: `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}`,
  os: `${platform()} ${release()} ${arch()}`,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  redis: ctx.redisUrl ?? null,
  versions: packageVersions(),
};
// Only a full run (every scenario, not quick) writes the dated report; others never replace it.
const prefix = ctx.quick ? 'quick-' : only !== undefined ? 'partial-' : '';
const stem = `${prefix}${environment.date.slice(0, 10)}`;
const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL(`${stem}.json`, dir), `${JSON.stringify({ environment, results }, null, 2)}\n`);
const svg = await renderChart(results);
writeFileSync(new URL(`${stem}.svg`, dir), svg);
writeFileSync(new URL(`${stem}.md`, dir), renderMarkdown(environment, results, `${stem}.svg`));
console.log(`wrote bench/results/${stem}.{json,md,svg}`);
if (failures > 0) {
  console.error(`${failures} scenario(s) failed`);
  process.exitCode = 1;
}
// Scenario clients (Redis, sockets) must not keep a finished run alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref();

function packageVersions(): Record<string, string> {
  // Read node_modules/<name>/package.json directly: many packages' `exports` do not expose it.
  const read = (base: URL, name: string) => {
    try {
      return (
        JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, base), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return undefined;
    }
  };
  const root = new URL('../', import.meta.url);
  const bench = new URL('./', import.meta.url);
  const versions: Record<string, string> = {
    'graphql-flight': (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string })
      .version,
  };
  for (const name of MEASURED.root) versions[name] = read(root, name) ?? 'not installed';
  for (const name of MEASURED.bench) {
    const version = read(bench, name);
    const key = versions[name] !== undefined && versions[name] !== version ? `${name} (peers)` : name;
    versions[key] = version ?? 'not installed';
  }
  return versions;
}

function format(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Two significant digits below 1 (a 1-in-500 ratio is 0.002x, not 0.00x), two decimals above. */
function formatRatio(ratio: number): string {
  if (ratio === 0) return '0x';
  return `${ratio < 1 ? Number(ratio.toPrecision(2)).toString() : format(ratio, 2)}x`;
}

interface Table {
  headers: string[];
  rows: string[][];
}

function table(result: ScenarioResult): Table {
  const base = result.rows.find((row) => row.system === result.baseline);
  const headers = ['system'];
  for (const metric of result.metrics) {
    headers.push(metric.label);
    if (metric.ratio) headers.push(`${metric.label} x baseline`);
  }
  const rows = result.rows.map((row) => {
    const cells = [row.system === result.baseline ? `${row.system} (baseline)` : row.system];
    for (const metric of result.metrics) {
      const value = row.values[metric.key];
      cells.push(format(value, metric.digits ?? 0));
      if (metric.ratio) {
        const reference = base?.values[metric.key];
        cells.push(
          typeof value === 'number' && typeof reference === 'number' && reference !== 0
            ? formatRatio(value / reference)
            : '—',
        );
      }
    }
    return cells;
  });
  return { headers, rows };
}

function renderText(result: ScenarioResult, seconds: number): string {
  const lines = [`\n## ${result.title}  (${format(seconds, 1)} s)`];
  if (result.skipped) return [...lines, `skipped: ${result.skipped}`].join('\n');
  if (result.description) lines.push(result.description);
  const { headers, rows } = table(result);
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  lines.push(line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line));
  for (const row of result.rows) if (row.note) lines.push(`  ${row.system}: ${row.note}`);
  for (const row of result.rows) if (row.failed) lines.push(`  ${row.system}: FAILED: ${row.failed}`);
  for (const note of result.notes ?? []) lines.push(`  note: ${note}`);
  for (const goal of result.goals ?? [])
    lines.push(`  goal ${goal.met ? 'met' : 'NOT met'}: ${goal.text} (${goal.detail})`);
  return lines.join('\n');
}

function renderMarkdown(env: typeof environment, all: ScenarioResult[], chart: string): string {
  const out = [
    `# graphql-flight benchmark, ${env.date.slice(0, 10)}${env.quick ? ' (quick smoke run: indicative only)' : ''}`,
    '',
    `Run ${env.date} on ${env.cpu}, ${env.memoryGb} GB, ${env.os}, Node ${env.node}; medians of ${env.rounds} round(s) per figure.`,
    'Every system was measured in the same run on the same machine: compare the ratios; absolute figures drift on a shared 2-core machine.',
    '',
    `![origin calls and requests per second per system](${chart})`,
    '',
    '## Goals',
    '',
  ];
  for (const result of all) {
    for (const goal of result.goals ?? [])
      out.push(`- ${goal.met ? '✅ met' : '❌ NOT met'}: ${goal.text} — ${goal.detail}`);
  }
  for (const result of all) {
    out.push('', `## ${result.title}`, '');
    if (result.skipped) {
      out.push(`Skipped: ${result.skipped}`);
      continue;
    }
    out.push(result.description, '');
    const { headers, rows } = table(result);
    out.push(
      `| ${headers.join(' | ')} |`,
      `|${headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    );
    for (const row of rows) out.push(`| ${row.join(' | ')} |`);
    const notes = [
      ...result.rows.filter((row) => row.note).map((row) => `${row.system}: ${row.note}`),
      ...result.rows.filter((row) => row.failed).map((row) => `${row.system}: FAILED: ${row.failed}`),
      ...(result.notes ?? []),
    ];
    if (notes.length > 0) out.push('', ...notes.map((note) => `- ${note}`));
  }
  out.push('', '## Versions', '', '| package | version |', '|---|---|');
  for (const [name, version] of Object.entries(env.versions)) out.push(`| ${name} | ${version} |`);
  return `${out.join('\n')}\n`;
}
