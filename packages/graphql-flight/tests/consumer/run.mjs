#!/usr/bin/env node
// The consumer test: graphql-flight installs and works from its packed tarball alone.
//
// 1. `npm pack` the library (its prepack builds dist) and check what the tarball holds.
// 2. Install the tarball in a fresh project under os.tmpdir() (no node_modules of the repository
//    visible from it) with graphql@16.9.0, graphql-yoga@5, typescript and @types/node@20.
// 3. Check that project's node_modules: one graphql, none of the server's dependencies, no Pothos.
// 4. Type-check fixture/server.ts there with tsc --strict (no skipLibCheck: the published .d.ts
//    files are checked too), compile it, run it, and put 200 concurrent identical queries to it:
//    one load, then a hit with the TTL it should have.
//
// Plain Node ESM (no tsx), loopback only; every wait is bounded. Exits 1 with the reason on the
// first failed check. CONSUMER_KEEP=1 keeps the temporary project for a look.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = resolve(here, '../..');
const repoRoot = resolve(packageDir, '../..');
const fixtureDir = join(here, 'fixture');

const GRAPHQL = '16.9.0';
const CONCURRENT = 200;
const TTL_SECONDS = 5;
/** How long the fixture's slow resolver takes (every concurrent request arrives meanwhile). */
const SLOW_DELAY_MS = 1_000;
/** Packages the consumer must not get: the demo server's dependencies, and Pothos (SDL-only). */
const FORBIDDEN = [
  'pg',
  '@electric-sql/pglite',
  'jose',
  'prom-client',
  '@escape.tech/graphql-armor',
  '@pothos/core',
];
/** What the tarball may hold besides dist/**: npm adds package.json, README and LICENSE itself. */
const TOP_LEVEL = new Set(['package.json', 'README.md', 'LICENSE']);

const TIMEOUT = { pack: 180_000, install: 300_000, tsc: 180_000, start: 15_000, fetch: 15_000, exit: 10_000 };

class CheckFailed extends Error {}

const startedAt = Date.now();
/** @type {string | undefined} */
let workDir;
/** @type {import('node:child_process').ChildProcess | undefined} */
let server;

try {
  await main();
  console.log(`\nconsumer test passed in ${seconds(Date.now() - startedAt)}`);
} catch (error) {
  const message = error instanceof CheckFailed ? error.message : (error?.stack ?? String(error));
  console.error(`\nconsumer test FAILED: ${message}`);
  process.exitCode = 1;
} finally {
  await stopServer();
  if (workDir !== undefined) {
    if (process.env.CONSUMER_KEEP === '1') console.log(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

async function main() {
  workDir = await realpath(await mkdtemp(join(tmpdir(), 'graphql-flight-consumer-')));
  const packDir = join(workDir, 'pack');
  const appDir = join(workDir, 'app');
  await mkdir(packDir);
  await mkdir(appDir);
  await checkIsolated(appDir);

  // 1. The tarball.
  let began = Date.now();
  await exec('npm', ['pack', '--pack-destination', packDir, '--loglevel=error'], {
    cwd: packageDir,
    timeoutMs: TIMEOUT.pack,
  });
  const tarballs = (await readdir(packDir)).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) fail(`npm pack wrote ${tarballs.length} tarballs: ${tarballs.join(', ')}`);
  const tarball = join(packDir, tarballs[0]);
  pass(`npm pack built ${tarballs[0]} (${seconds(Date.now() - began)})`);

  const listing = (await exec('tar', ['tzf', tarball], { timeoutMs: 30_000 })).stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'));
  const outside = listing.filter((entry) => !entry.startsWith('package/'));
  if (outside.length > 0) fail(`tarball entries outside package/: ${outside.join(', ')}`);
  const files = listing.map((entry) => entry.slice('package/'.length)).sort();
  checkTarballFiles(files);
  const manifest = JSON.parse(
    (await exec('tar', ['-xzOf', tarball, 'package/package.json'], { timeoutMs: 30_000 })).stdout,
  );
  checkManifest(manifest, new Set(files));

  // 2. The consumer project.
  await writeFile(
    join(appDir, 'package.json'),
    `${JSON.stringify({ name: 'graphql-flight-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  for (const name of await readdir(fixtureDir)) {
    if (name === 'server.ts')
      await writeFile(join(appDir, name), await consumerSource(join(fixtureDir, name)));
    else await copyFile(join(fixtureDir, name), join(appDir, name));
  }
  const typescript = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')).devDependencies
    ?.typescript;
  const installs = [
    tarball,
    `graphql@${GRAPHQL}`,
    'graphql-yoga@5',
    `typescript@${typescript ?? '5'}`,
    '@types/node@20',
  ];
  began = Date.now();
  await exec('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...installs], {
    cwd: appDir,
    timeoutMs: TIMEOUT.install,
  });
  pass(
    `installed ${installs.map((spec) => shorter(workDir, spec)).join(' ')} (${seconds(Date.now() - began)})`,
  );

  // 3. What the consumer got.
  const modules = join(appDir, 'node_modules');
  const installed = await readManifest(join(modules, 'graphql-flight'));
  if (installed?.version !== manifest.version) {
    fail(`node_modules/graphql-flight is ${installed?.version}, the tarball ${manifest.version}`);
  }
  if (existsSync(join(modules, 'graphql-flight', 'src')))
    fail('node_modules/graphql-flight has a src/ folder');
  pass(`node_modules/graphql-flight is the tarball's ${manifest.name}@${manifest.version}`);
  await checkNodeModules(modules);
  await checkImports(join(modules, 'graphql-flight'), manifest);
  // The exports' "default" condition: CommonJS consumers load it too (require(esm), Node 20.19+).
  await exec(
    process.execPath,
    [
      '--no-warnings',
      '--input-type=commonjs',
      '-e',
      "require('graphql-flight'); require('graphql-flight/graphql');",
    ],
    { cwd: appDir, timeoutMs: 30_000 },
  );
  pass("require('graphql-flight') and require('graphql-flight/graphql') load from CommonJS too");

  // 4. The server: type-check, compile, run.
  const tsconfig = await readFile(join(appDir, 'tsconfig.json'), 'utf8');
  if (/"skipLibCheck"\s*:/.test(tsconfig))
    fail('fixture/tsconfig.json sets skipLibCheck: the .d.ts files must be checked');
  const tsc = join(modules, 'typescript', 'bin', 'tsc');
  began = Date.now();
  const checked = await exec(
    process.execPath,
    [tsc, '-p', 'tsconfig.json', '--strict', '--noEmit', '--skipLibCheck', 'false', '--listFiles'],
    // Its diagnostics, not the list of files, tell why it failed.
    { cwd: appDir, timeoutMs: TIMEOUT.tsc, shown: (line) => !line.startsWith(sep) },
  );
  const programFiles = checked.stdout.split('\n').map((line) => line.trim());
  for (const declaration of ['dist/index.d.ts', 'dist/graphql/index.d.ts']) {
    const path = join(modules, 'graphql-flight', declaration);
    if (!programFiles.includes(path)) fail(`tsc did not check ${path} (it resolved something else)`);
  }
  const libraryDeclarations = programFiles.filter((path) =>
    path.includes(`${sep}graphql-flight${sep}dist${sep}`),
  );
  pass(
    `tsc --strict --noEmit (module NodeNext, no skipLibCheck) checks server.ts and ${libraryDeclarations.length} ` +
      `of graphql-flight's .d.ts files, ${programFiles.filter((path) => path.endsWith('.d.ts')).length} .d.ts in all (${seconds(Date.now() - began)})`,
  );
  // Checked above: this run only writes the JavaScript.
  await exec(process.execPath, [tsc, '-p', 'tsconfig.json', '--noCheck'], {
    cwd: appDir,
    timeoutMs: TIMEOUT.tsc,
  });
  const serverJs = join(appDir, 'dist', 'server.js');
  if (!existsSync(serverJs)) fail(`tsc did not write ${serverJs}`);
  pass('tsc compiled server.ts to dist/server.js');

  const { port, events } = await startServer(appDir, serverJs);
  pass(`the server started on 127.0.0.1:${port} without @pothos/core installed`);
  await checkStampede(`http://127.0.0.1:${port}/graphql`, events);
  const closed = await stopServer();
  if (closed.code !== 0)
    fail(`the server exited with ${closed.code ?? closed.signal} on SIGTERM\n${closed.stderr}`);
  const last = events.find((event) => event.event === 'closed');
  if (last?.calls !== 1) fail(`the server reports ${last?.calls} resolver calls at exit, not 1`);
  pass('the server stopped cleanly on SIGTERM with 1 resolver call in all');
}

/**
 * fixture/server.ts as the consumer writes it: without its first line, `// @ts-nocheck`, which is
 * there for the library's own typecheck only (packages/graphql-flight/tsconfig.json includes
 * tests/, and would check this file against a dist/ that may be missing or stale). The consumer's
 * tsc checks all of it; nothing else may switch checking off, and there are no casts.
 */
async function consumerSource(path) {
  const [first, ...rest] = (await readFile(path, 'utf8')).split('\n');
  if (first !== '// @ts-nocheck')
    fail(`${path} must start with "// @ts-nocheck" (see consumerSource in run.mjs)`);
  const source = rest.join('\n');
  if (/@ts-(nocheck|ignore|expect-error)/.test(source)) fail(`${path} switches type checking off`);
  const code = source.replace(/\/\/.*$/gm, '');
  const cast = /\sas\s+(?!const\b)[\w{[(]|<\w+>\s*\w/.exec(code);
  if (cast !== null) fail(`${path} has a cast ("${cast[0].trim()}"): the published types must do without`);
  return source;
}

/** The project must not see any node_modules of the repository (or of anything above it). */
async function checkIsolated(appDir) {
  const real = await realpath(appDir);
  const root = await realpath(repoRoot);
  if (real === root || real.startsWith(`${root}${sep}`)) fail(`${real} is inside the repository`);
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) fail(`${join(dir, 'node_modules')} is visible from ${real}`);
    if (dirname(dir) === dir) break;
  }
  pass(`fresh project ${real} (outside the repository, no node_modules above it)`);
}

/** Only package.json, README.md, LICENSE and dist/** (.js and .d.ts: no maps, no demo, tests, bench or src). */
function checkTarballFiles(files) {
  const stray = files.filter((file) => !TOP_LEVEL.has(file) && !file.startsWith('dist/'));
  if (stray.length > 0) fail(`the tarball holds files outside dist/: ${stray.join(', ')}`);
  const demo = files.filter((file) => /^dist\/(app\/|main\.|server\.|config\.|plugins\/)/.test(file));
  if (demo.length > 0) fail(`the tarball holds the demo server: ${demo.join(', ')}`);
  const other = files.filter((file) => file.startsWith('dist/') && !/\.(d\.ts|js)$/.test(file));
  if (other.length > 0) {
    fail(
      `the tarball holds files that are neither .js nor .d.ts (maps are not shipped): ${other.join(', ')}`,
    );
  }
  for (const required of ['package.json', 'LICENSE']) {
    if (!files.includes(required)) fail(`the tarball has no ${required}`);
  }
  for (const file of files.filter((file) => file.endsWith('.js'))) {
    if (!files.includes(file.replace(/\.js$/, '.d.ts'))) fail(`the tarball has ${file} without its .d.ts`);
  }
  const dist = files.filter((file) => file.startsWith('dist/'));
  pass(
    `the tarball holds ${files.filter((file) => !file.startsWith('dist/')).join(', ')} and ${dist.length} files ` +
      'under dist/ (.js and .d.ts only; no maps, demo, tests, bench or src)',
  );
  console.log(files.map((file) => `       ${file}`).join('\n'));
  for (const required of ['README.md', 'LICENSE']) {
    if (!files.includes(required)) fail(`the tarball has no ${required}`);
  }
}

/** Every entry point the manifest names (but the source condition, for development) is in the tarball. */
function checkManifest(manifest, files) {
  const targets = [];
  const collect = (value, conditions) => {
    if (typeof value === 'string') {
      if (!conditions.includes('@graphql-flight/source')) targets.push(value);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) collect(inner, [...conditions, key]);
    }
  };
  collect(manifest.exports, []);
  for (const field of ['main', 'types']) if (manifest[field] !== undefined) targets.push(manifest[field]);
  const missing = targets.filter((target) => !files.has(target.replace(/^\.\//, '')));
  if (missing.length > 0) fail(`package.json points at files the tarball lacks: ${missing.join(', ')}`);
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    if (typeof conditions !== 'object') continue;
    const keys = Object.keys(conditions).filter((key) => key !== '@graphql-flight/source');
    if (keys[0] !== 'types') fail(`exports["${subpath}"]: "types" must come first, got ${keys.join(', ')}`);
  }
  const needed = { ...manifest.dependencies, ...manifest.peerDependencies };
  const leaked = FORBIDDEN.filter((name) => name !== '@pothos/core' && name in needed);
  if (leaked.length > 0) fail(`package.json depends on ${leaked.join(', ')}`);
  pass(`package.json's ${targets.length} entry points (exports, main, types) are all in the tarball`);
}

/** One graphql (16.9.0), none of FORBIDDEN, anywhere under node_modules. */
async function checkNodeModules(modules) {
  const graphqls = [];
  const packages = [];
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name === 'package.json') {
        const parts = relative(modules, path).split(sep);
        if (parts.at(-2) === 'graphql') graphqls.push(path);
        const at = parts.lastIndexOf('node_modules');
        const name = parts.slice(at + 1, -1);
        if (name.length === 1 || (name.length === 2 && name[0].startsWith('@')))
          packages.push(name.join('/'));
      }
    }
  };
  await walk(modules);
  const found = [...new Set(packages)];
  const versions = await Promise.all(graphqls.map(async (path) => JSON.parse(await readFile(path, 'utf8'))));
  const copies = graphqls.map(
    (path, i) => `${relative(modules, path)} (${versions[i].name}@${versions[i].version})`,
  );
  if (graphqls.length !== 1)
    fail(`node_modules has ${graphqls.length} copies of graphql: ${copies.join(', ')}`);
  if (versions[0].name !== 'graphql' || versions[0].version !== GRAPHQL) {
    fail(`node_modules has ${copies[0]}, not graphql@${GRAPHQL}`);
  }
  pass(`one copy of graphql in node_modules: ${copies[0]}`);
  const forbidden = FORBIDDEN.filter((name) => found.includes(name));
  if (forbidden.length > 0) fail(`node_modules holds ${forbidden.join(', ')}`);
  pass(`none of ${FORBIDDEN.join(', ')} in node_modules (${found.length} packages in all)`);
}

/**
 * Every bare import of the shipped .js and .d.ts files is a builtin, a dependency or a peer; and
 * neither `graphql-flight` nor `graphql-flight/graphql` reaches @pothos/core (or dataloader).
 */
async function checkImports(libraryDir, manifest) {
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const builtins = new Set(builtinModules);
  /** @type {Map<string, { bare: string[], relative: string[] }>} */
  const graph = new Map();
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/\.(js|d\.ts)$/.test(entry.name))
        graph.set(path, importsOf(await readFile(path, 'utf8'), path));
    }
  };
  await walk(join(libraryDir, 'dist'));
  const undeclared = [];
  for (const [path, { bare }] of graph) {
    for (const specifier of bare) {
      const name = packageName(specifier);
      if (!specifier.startsWith('node:') && !builtins.has(name) && !declared.has(name)) {
        undeclared.push(`${relative(libraryDir, path)} imports ${specifier}`);
      }
    }
  }
  if (undeclared.length > 0) {
    fail(
      `the library imports packages it does not declare (dependencies or peers):\n  ${undeclared.join('\n  ')}`,
    );
  }
  pass(`every import in dist/ (${graph.size} files) is a builtin, a dependency or a peer of graphql-flight`);
  for (const subpath of ['.', './graphql']) {
    const entry = manifest.exports[subpath];
    const reached = new Set();
    const needs = new Set();
    const visit = (file) => {
      if (reached.has(file)) return;
      reached.add(file);
      const imports = graph.get(file);
      if (imports === undefined) fail(`${relative(libraryDir, file)} is imported but not shipped`);
      for (const specifier of imports.bare) needs.add(packageName(specifier));
      for (const target of imports.relative) visit(target);
    };
    visit(join(libraryDir, entry.import ?? entry.default));
    visit(join(libraryDir, entry.types));
    const optional = Object.keys(manifest.peerDependenciesMeta ?? {}).filter((name) => needs.has(name));
    const name = `${manifest.name}${subpath.slice(1)}`;
    for (const peer of ['@pothos/core', 'dataloader']) {
      if (needs.has(peer)) fail(`${name} reaches ${peer} (an SDL consumer does not install it)`);
    }
    pass(
      `${name} (${reached.size} files) imports no @pothos/core or dataloader; optional peers it needs: ` +
        `${optional.join(', ') || 'none'}`,
    );
  }
}

/** The module specifiers of one emitted file: bare ones, and relative ones resolved to paths. */
function importsOf(text, path) {
  const specifiers = new Set();
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?[^'";]*?\s+from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) specifiers.add(match[1]);
  const bare = [];
  const local = [];
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) bare.push(specifier);
    else {
      const target = resolve(dirname(path), specifier);
      local.push(path.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target);
    }
  }
  return { bare, relative: local };
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Starts dist/server.js; resolves with its port once it says it listens. */
async function startServer(appDir, serverJs) {
  const child = spawn(process.execPath, [serverJs], {
    cwd: appDir,
    env: { ...cleanEnv(), SLOW_DELAY_MS: String(SLOW_DELAY_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  const events = [];
  let stderr = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  child.exitInfo = new Promise((resolveExit) => {
    // 'close': after its stdout and stderr are read to the end (its last event included).
    child.on('close', (code, signal) => resolveExit({ code, signal, stderr }));
  });
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new CheckFailed(`the server did not listen within ${TIMEOUT.start} ms\n${stderr}`)),
      TIMEOUT.start,
    );
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        events.push(event);
        if (event.event === 'listening') {
          clearTimeout(timer);
          resolvePort(event.port);
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new CheckFailed(`the server exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
  return { port, events };
}

/** SIGTERM, then SIGKILL past TIMEOUT.exit; resolves with how it exited. */
async function stopServer() {
  const child = server;
  if (child === undefined) return { code: null, signal: null, stderr: '' };
  server = undefined;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT.exit);
    const info = await child.exitInfo;
    clearTimeout(timer);
    return info;
  }
  return child.exitInfo;
}

/** 200 concurrent identical POSTs: one load; then a repeat is a hit whose TTL the timings predict. */
async function checkStampede(url, events) {
  const post = async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ slow }' }),
      signal: AbortSignal.timeout(TIMEOUT.fetch),
    });
    const body = await response.text();
    return { status: response.status, headers: response.headers, body, at: Date.now() };
  };
  const sent = Date.now();
  const answers = await Promise.all(Array.from({ length: CONCURRENT }, post));
  const expected = JSON.stringify({ data: { slow: 'slow #1' } });
  const wrong = answers.filter((answer) => answer.status !== 200 || answer.body !== expected);
  if (wrong.length > 0) {
    fail(
      `${wrong.length} of ${CONCURRENT} answers are not 200 ${expected}, e.g. ${wrong[0].status} ${wrong[0].body}`,
    );
  }
  const calls = events.filter((event) => event.event === 'call').length;
  if (calls !== 1) fail(`${CONCURRENT} concurrent queries called the slow resolver ${calls} times, not once`);
  const outcomes = {};
  for (const answer of answers) {
    const outcome = answer.headers.get('x-cache') ?? '(none)';
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  if (outcomes.MISS !== 1)
    fail(`X-Cache of the ${CONCURRENT} answers: ${JSON.stringify(outcomes)}, not one MISS`);
  const miss = answers.find((answer) => answer.headers.get('x-cache') === 'MISS');
  const firstAt = Math.min(...answers.map((answer) => answer.at));
  const lastAt = Math.max(...answers.map((answer) => answer.at));
  pass(
    `${CONCURRENT} concurrent identical queries loaded once (resolver calls: 1; X-Cache ` +
      `${Object.entries(outcomes)
        .map(([outcome, n]) => `${outcome} ${n}`)
        .join(', ')}; answered ${firstAt - sent}-${lastAt - sent} ms after the first was sent)`,
  );

  // The stored response expires TTL_SECONDS after it was stored: after the resolver's call (the
  // server reports when it made it) and delay, and before the first answer arrived (the MISS's
  // own headers already name it stored).
  const storedFrom = events.find((event) => event.event === 'call').at + SLOW_DELAY_MS;
  const stored = { from: storedFrom, by: firstAt };
  checkTtl('the MISS', miss.headers.get('cache-status'), stored, { from: storedFrom, by: firstAt });

  const askedAt = Date.now();
  const repeat = await post();
  if (repeat.status !== 200 || repeat.body !== expected) {
    fail(`the repeat answered ${repeat.status} ${repeat.body}`);
  }
  if (repeat.headers.get('x-cache') !== 'HIT') {
    fail(`the repeat has X-Cache: ${repeat.headers.get('x-cache')}, not HIT`);
  }
  const status = repeat.headers.get('cache-status');
  const { ttl, lowest, highest } = checkTtl('the repeat', status, stored, { from: askedAt, by: repeat.at });
  if (events.filter((event) => event.event === 'call').length !== 1)
    fail('the repeat called the slow resolver');
  const allowed = lowest === highest ? `the only value` : `within ${lowest}..${highest}`;
  pass(
    `a repeat answers X-Cache: HIT, Cache-Status "${status}" without a resolver call (ttl=${ttl}, ${allowed} ` +
      `the timings allow: stored ${stored.from - sent}-${stored.by - sent} ms, answered ` +
      `${askedAt - sent}-${repeat.at - sent} ms after the burst began)`,
  );
}

/**
 * `Cache-Status` names `ttl=N`: the whole seconds (rounded up) left of a response stored
 * between `stored.from` and `stored.by` (so expiring TTL_SECONDS later) when the server answered,
 * between `answered.from` and `answered.by`. Returns N and the range those bounds allow.
 */
function checkTtl(what, header, stored, answered) {
  const match = /(?:^|;)\s*ttl=(\d+)\s*(?:;|$)/.exec(header ?? '');
  if (match === null) fail(`${what}'s Cache-Status "${header}" names no ttl`);
  const ttl = Number(match[1]);
  const ttlMs = TTL_SECONDS * 1_000;
  const lowest = Math.max(0, Math.ceil((stored.from + ttlMs - answered.by) / 1_000));
  const highest = Math.min(TTL_SECONDS, Math.ceil((stored.by + ttlMs - answered.from) / 1_000));
  if (ttl < lowest || ttl > highest) {
    fail(`${what}'s Cache-Status "${header}": ttl=${ttl}, the timings allow ${lowest}..${highest}`);
  }
  return { ttl, lowest, highest };
}

/**
 * Runs a command to completion (its process group killed past `timeoutMs`); rejects on failure with
 * the end of its output (the lines `shown` keeps).
 */
function exec(command, args, { cwd = workDir, timeoutMs, shown: keepLine = () => true }) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const shown = `${command === process.execPath ? 'node' : command} ${args.map((arg) => shorter(cwd, arg)).join(' ')}`;
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new CheckFailed(`${shown}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveRun({ stdout, stderr });
      else {
        const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
        const output = `${stdout}\n${stderr}`.split('\n').filter(keepLine).join('\n');
        reject(new CheckFailed(`${shown} (in ${cwd}) ${why}:\n${tail(output)}`));
      }
    });
  });
}

/**
 * The environment without what `npm run` adds: npm_config_local_prefix and its kin would point a
 * child npm at the repository instead of the temporary project.
 */
function cleanEnv() {
  const keep =
    /^npm_config_(cache|cafile|registry|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl)$/i;
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if ((/^npm_/i.test(key) && !keep.test(key)) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

async function readManifest(dir) {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** `arg`, relative to `dir` when it is a path. */
function shorter(dir, arg) {
  return arg.startsWith(sep) ? relative(dir, arg) : arg;
}

function tail(text, lines = 40) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function seconds(ms) {
  return `${(ms / 1_000).toFixed(1)} s`;
}

function pass(message) {
  console.log(`  ok  ${message}`);
}

/** @returns {never} */
function fail(message) {
  throw new CheckFailed(message);
}
