import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeJwt, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'token-cli-test-secret-0123456789-abcdefghij';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` in the repository with AUTH_SECRET set (and TOKEN_MAX_LIFETIME when given). */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { TOKEN_MAX_LIFETIME: _unset, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: ROOT,
        env: { ...inherited, NODE_ENV: 'development', AUTH_SECRET: SECRET, ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** scripts/token.ts straight through node (as the npm script runs it, without npm's start-up). */
const token = (args: string[], env?: Record<string, string>) =>
  run(
    process.execPath,
    ['--conditions=@graphql-flight/source', '--import', 'tsx', 'scripts/token.ts', ...args],
    env,
  );

/** The claims of the one token printed on stdout, checked against the secret. */
async function printed(result: Run) {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const lines = result.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const { payload } = await jwtVerify(lines[0]!, new TextEncoder().encode(SECRET), {
    algorithms: ['HS256'],
    // A 1s token may have expired by the time it is checked: the signature is what counts here.
    currentDate: new Date(decodeJwt(lines[0]!).iat! * 1_000),
  });
  return payload;
}

/** A refusal: exit code 2, one line on stderr, no stack trace, nothing on stdout. */
function refused(result: Run): string {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s*at /m);
  return lines[0]!;
}

describe('npm run token', () => {
  it('honours --expires=1s through npm run, as the README writes it', async () => {
    const payload = await printed(await run('npm', ['run', '-s', 'token', '--', '7', '--expires=1s']));
    expect(payload.sub).toBe('7');
    expect(payload.exp! - payload.iat!).toBe(1);
    expect(payload.role).toBeUndefined();
  }, 90_000);

  it('honours --expires 1s and --operator, and defaults to 12h', async () => {
    const [spaced, operator, plain] = await Promise.all([
      token(['1', '--expires', '1s']),
      token(['--operator', '2', '--expires=30d']),
      token(['3']),
    ]);
    const one = await printed(spaced);
    expect(one.exp! - one.iat!).toBe(1);
    const op = await printed(operator);
    expect(op).toMatchObject({ sub: '2', role: 'operator' });
    expect(op.exp! - op.iat!).toBe(30 * 86_400);
    const def = await printed(plain);
    expect(def.exp! - def.iat!).toBe(12 * 3_600);
  }, 90_000);

  it('refuses unknown flags, extra or bad customer ids and bad durations: one line, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['1', '--bogus'], "npm run token: unknown option '--bogus' (see npm run token -- --help)"],
      [
        ['1', '--expires', 'bogus'],
        'npm run token: --expires must be a duration <n>s, <n>m, <n>h or <n>d (n a positive integer of at most 9 digits, e.g. 12h); received "bogus" (see npm run token -- --help)',
      ],
      [
        ['1', '--expires=0s'],
        'npm run token: --expires must be a duration <n>s, <n>m, <n>h or <n>d (n a positive integer of at most 9 digits, e.g. 12h); received "0s" (see npm run token -- --help)',
      ],
      [
        ['1', '--expires', '-1m'],
        "npm run token: option '--expires' argument is ambiguous (see npm run token -- --help)",
      ],
      [
        ['1', '--expires'],
        "npm run token: option '--expires <value>' argument missing (see npm run token -- --help)",
      ],
      [
        ['1', '--expires', '31d'],
        'npm run token: --expires 31d is longer than TOKEN_MAX_LIFETIME (30d); the server would refuse the token (see npm run token -- --help)',
      ],
      [['1', '2'], 'npm run token: one customer id, not 2 ("1", "2") (see npm run token -- --help)'],
      [[], 'npm run token: a customer id is required (see npm run token -- --help)'],
      [
        ['abc'],
        'npm run token: the customer id must be a positive integer; received "abc" (see npm run token -- --help)',
      ],
      [
        ['0'],
        'npm run token: the customer id must be a positive integer; received "0" (see npm run token -- --help)',
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => token(args)));
    expect(results.map(refused)).toEqual(cases.map(([, line]) => line));
  }, 120_000);

  it('bounds --expires and its default by TOKEN_MAX_LIFETIME, and reports a bad one in one line', async () => {
    const [tooLong, fallback, badConfig] = await Promise.all([
      token(['1', '--expires', '2h'], { TOKEN_MAX_LIFETIME: '1h' }),
      token(['1'], { TOKEN_MAX_LIFETIME: '1h' }),
      token(['1'], { TOKEN_MAX_LIFETIME: 'forever' }),
    ]);
    expect(refused(tooLong)).toBe(
      'npm run token: --expires 2h is longer than TOKEN_MAX_LIFETIME (1h); the server would refuse the token (see npm run token -- --help)',
    );
    const payload = await printed(fallback);
    expect(payload.exp! - payload.iat!).toBe(3_600);
    expect(refused(badConfig)).toMatch(/^npm run token: TOKEN_MAX_LIFETIME must be a duration /);
  }, 90_000);

  it('prints its usage with --help', async () => {
    const help = await token(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /^usage: npm run token -- <customerId> \[--operator\] \[--expires <duration>\]/,
    );
    expect(help.stdout).toContain('--expires=<duration>');
  }, 60_000);
});
