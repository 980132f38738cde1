import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
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

/** src/main.ts under tsx, as the server suites start it, from `cwd`. */
function main(cwd: string, env: Record<string, string>): Run {
  return run(process.execPath, ['--conditions=@graphql-flight/source', '--import', TSX, MAIN], { cwd, env });
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
    const started = `graphql-flight on http://localhost:${port}/graphql`;
    const deadline = performance.now() + 240_000;
    while (!npm.output.includes(started)) {
      if (npm.child.exitCode !== null) throw new Error(`npm start exited: ${npm.output}`);
      if (performance.now() > deadline) throw new Error(`npm start not serving in 240 s: ${npm.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    // npm runs the script through sh, which `exec` replaced with node: node is npm's own child.
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(npm.child.pid)], {
      encoding: 'utf8',
    });
    const node = /^\s*(\d+)\s+node dist\/main\.js\s*$/m.exec(children);
    expect(node, children).not.toBeNull();
    const nodePid = Number(node?.[1]);
    try {
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
      // Without the exec, node outlives npm: never leave it behind.
      if (alive(nodePid)) process.kill(nodePid, 'SIGKILL');
    }
  }, 300_000);
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
