import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyViewer } from '../../src/app/auth.js';
import { freePort } from '../../packages/graphql-flight/tests/helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** `--import tsx`, resolved from the project, so main.ts can run from any working directory. */
const TSX = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;
const MAIN = join(ROOT, 'src/main.ts');
/** What main.ts waits for before SIGKILL would be needed (SHUTDOWN_DEADLINE_MS). */
const GRACE_MS = 10_000;

interface Run {
  child: ChildProcess;
  /** Everything written to stdout and stderr, in order. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }): Run {
  const child = spawn(command, args, {
    cwd: options.cwd,
    // The test's own variables (REDIS_URL, DATABASE_URL of a CI pass) never reach the server.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    get output() {
      return output;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/** Waits (bounded) until `text` is in the run's output; fails at once if the process exited. */
async function until(run: Run, text: string | RegExp, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const found = () => (typeof text === 'string' ? run.output.includes(text) : text.test(run.output));
  while (!found()) {
    if (run.child.exitCode !== null) throw new Error(`exited with ${run.child.exitCode}: ${run.output}`);
    if (performance.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${text}\n${run.output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** src/main.ts under tsx, as the server suites start it, from `cwd`. */
function main(cwd: string, env: Record<string, string>): Run {
  return run(process.execPath, ['--conditions=@graphql-flight/source', '--import', TSX, MAIN], { cwd, env });
}

/** The processes below `root` (children, theirs, ...), from ps. */
function descendantsOf(root: number): Array<{ pid: number; ppid: number; args: string }> {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .flatMap((line) => {
      const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
      return match === null
        ? []
        : [{ pid: Number(match[1]), ppid: Number(match[2]), args: (match[3] ?? '').trim() }];
    });
  const found: Array<{ pid: number; ppid: number; args: string }> = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const entry of table) {
      if (parents.has(entry.ppid) && !parents.has(entry.pid)) {
        parents.add(entry.pid);
        found.push(entry);
        grew = true;
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start under a supervisor', () => {
  it('is a process that receives SIGTERM: the server stops answering and node is gone within the grace period', async () => {
    const port = await freePort();
    // Exactly what the README says to run; its prestart builds first, which takes a while.
    const npm = run('npm', ['start'], { cwd: ROOT, env: { PORT: String(port), NODE_ENV: 'development' } });
    await until(npm, `graphql-flight on http://localhost:${port}/graphql`, 240_000);
    expect(npm.output).toMatch(
      new RegExp(
        `graphql-flight on http://localhost:${port}/graphql \\(pglite, memory cache\\), listening on (\\[::\\]|0\\.0\\.0\\.0):${port} \\(every interface\\)\n`,
      ),
    );
    // Every process npm started, so that none is left behind whatever happens below.
    const descendants = descendantsOf(npm.child.pid ?? -1);
    try {
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      // npm runs the script through sh, which `exec` replaced with node: node is npm's own child.
      const node = descendants.find(
        (entry) => entry.ppid === npm.child.pid && entry.args === 'node dist/main.js',
      );
      expect(node, JSON.stringify(descendants)).toBeDefined();
      const nodePid = node?.pid ?? -1;
      const signalled = performance.now();
      process.kill(npm.child.pid ?? -1, 'SIGTERM');
      const exit = await npm.exited;
      expect(performance.now() - signalled).toBeLessThan(GRACE_MS);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(alive(nodePid)).toBe(false);
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
      expect(npm.output).toContain('SIGTERM: finishing in-flight requests');
      expect(npm.output).toContain('stopped');
    } finally {
      // Without the exec, node outlives npm: never leave it (or its shell) behind.
      for (const { pid } of descendants) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 300_000);
});

describe('src/main.ts with a Redis that does not answer, and a request that outlives the grace period', () => {
  it('says so at start, and exits 1 when a request is still running after the grace period', async () => {
    const [port, closed, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const server = main(ROOT, {
      PORT: String(port),
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      NODE_ENV: 'development',
      REDIS_URL: `redis://127.0.0.1:${closed}`,
    });
    await until(server, `graphql-flight on http://127.0.0.1:${port}/graphql`, 120_000);
    // The start line does not claim a healthy Redis, and a warning says what that means.
    expect(server.stdout).toContain(
      `graphql-flight on http://127.0.0.1:${port}/graphql (pglite, redis cache: not answering), listening on 127.0.0.1:${port}\n`,
    );
    expect(server.stdout).toContain(
      `metrics on http://127.0.0.1:${metricsPort}/metrics, listening on 127.0.0.1:${metricsPort}, no token\n`,
    );
    expect(server.stderr).toMatch(
      /redis does not answer \(.+\): values load from the database in this process until it does; \/ready answers 503\n/,
    );
    expect(server.stderr).toContain(
      `redis store error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:${closed}`,
    );
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(503);

    // A request whose body never comes keeps its connection busy (REQUEST_TIMEOUT_MS is 30 s).
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    try {
      const signalled = performance.now();
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 1, signal: null });
      const waited = performance.now() - signalled;
      expect(waited).toBeGreaterThanOrEqual(GRACE_MS - 100);
      expect(waited).toBeLessThan(GRACE_MS + 5_000);
      expect(server.output).toContain('SIGTERM: finishing in-flight requests');
      expect(server.stderr).toContain(`shutdown took longer than ${GRACE_MS} ms; exiting`);
      expect(server.output).not.toContain('stopped\n');
    } finally {
      socket.destroy();
    }
  }, 180_000);
});

describe('npm run token', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('signs with the AUTH_SECRET of .env in its working directory too', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gf-token-'));
    const secret = 'a-secret-from-the-dotenv-file-0123456789';
    writeFileSync(join(dir, '.env'), `AUTH_SECRET=${secret}\n`);
    const token = run(
      process.execPath,
      ['--conditions=@graphql-flight/source', '--import', TSX, join(ROOT, 'scripts/token.ts'), '7'],
      { cwd: dir, env: {} },
    );
    expect(await token.exited).toEqual({ code: 0, signal: null });
    const viewer = await verifyViewer(`Bearer ${token.stdout.trim()}`, new TextEncoder().encode(secret));
    expect(viewer).toEqual({ customerId: 7, operator: false });
  });
});

describe('what the server prints when it cannot start', () => {
  it('prints one line for a config error and exits 2', async () => {
    const server = main(ROOT, { PORT: 'http' });
    expect(await server.exited).toEqual({ code: 2, signal: null });
    expect(server.stderr).toBe(
      'graphql-flight: config error: PORT must be a port number from 1 to 65535; received "http"\n',
    );
    expect(server.stdout).toBe('');
  });

  it('prints one line when the database is unreachable and exits 1', async () => {
    const closed = await freePort();
    const server = main(ROOT, {
      PORT: String(await freePort()),
      AUTH_SECRET: 'start-stop-test-secret-0123456789abcdef',
      DATABASE_URL: `postgres://u:pw@127.0.0.1:${closed}/shop`,
    });
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr).toMatch(
      new RegExp(
        `^graphql-flight: cannot start: cannot open PostgreSQL at 127\\.0\\.0\\.1:${closed}/shop: (connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}|ECONNREFUSED)\\n$`,
      ),
    );
    expect(server.output).not.toContain('pw');
  });
});

describe('.env in the working directory', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is read at start, and the environment wins over it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gf-dotenv-'));
    // PORT is checked before AUTH_SECRET: a config error about AUTH_SECRET means PORT came from
    // the environment (the file's is invalid), and AUTH_SECRET from the file (the environment has none).
    writeFileSync(join(dir, '.env'), 'PORT=from-the-file\nAUTH_SECRET=short\n');
    const server = main(dir, { PORT: String(await freePort()) });
    expect(await server.exited).toEqual({ code: 2, signal: null });
    expect(server.stderr).toBe(
      'graphql-flight: config error: AUTH_SECRET must be at least 32 characters long; received "5 characters"\n',
    );
  });

  it('prints one line for a malformed .env and exits 2', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gf-dotenv-'));
    const path = join(dir, '.env');
    writeFileSync(path, '# settings\nPORT 4000\n');
    const server = main(dir, {});
    expect(await server.exited).toEqual({ code: 2, signal: null });
    expect(server.stderr).toBe(`graphql-flight: config error: ${path}: line 2 is not NAME=value\n`);
  });
});
