// npm run token -- <customerId> [--operator] [--expires <n>s|m|h|d]
// Prints a viewer token signed with AUTH_SECRET (or the development secret when it is unset).
// Bad input is one line on stderr and exit code 2, never a stack trace.
import { parseArgs } from 'node:util';
import { formatDuration, parseDuration, signToken } from '../src/app/auth.js';
import { ConfigError, loadConfig } from '../src/config.js';

const USAGE = `usage: npm run token -- <customerId> [--operator] [--expires <duration>]

Prints an HS256 viewer token for <customerId> (a positive integer), signed with AUTH_SECRET
(the development secret when it is unset).

  --operator             the token has the operator role
  --expires <duration>   its lifetime: <n>s, <n>m, <n>h or <n>d (n a positive integer), at most
                         TOKEN_MAX_LIFETIME (default 30d); also --expires=<duration>.
                         Default 12h, or TOKEN_MAX_LIFETIME when that is shorter.
  -h, --help             this text`;

/** Bad input: one line on stderr, exit code 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<string | undefined> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // node:util's messages go on (about `--`, over several lines): their first sentence is enough.
    const message = error instanceof Error ? error.message : String(error);
    const first = message.split(/\.\s|\n/)[0]!.replace(/\.$/, '');
    throw new UsageError(first.replace(/^./, (c) => c.toLowerCase()));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'a customer id is required'
        : `one customer id, not ${positionals.length} (${positionals.map((p) => JSON.stringify(p)).join(', ')})`,
    );
  }
  const customerId = positionals[0]!;
  // As verifyViewer reads `sub`: a positive integer of at most 10 digits.
  if (!/^[1-9][0-9]{0,9}$/.test(customerId)) {
    throw new UsageError(
      `the customer id must be a positive integer; received ${JSON.stringify(customerId)}`,
    );
  }
  const config = loadConfig();
  const max = config.tokenMaxLifetimeSeconds;
  let expiresIn = Math.min(parseDuration('12h')!, max);
  if (values.expires !== undefined) {
    const seconds = parseDuration(values.expires);
    if (seconds === undefined) {
      throw new UsageError(
        `--expires must be a duration <n>s, <n>m, <n>h or <n>d (n a positive integer of at most 9 digits, e.g. 12h); received ${JSON.stringify(values.expires)}`,
      );
    }
    if (seconds > max) {
      throw new UsageError(
        `--expires ${values.expires} is longer than TOKEN_MAX_LIFETIME (${formatDuration(max)}); the server would refuse the token`,
      );
    }
    expiresIn = seconds;
  }
  return signToken(Number(customerId), config.authSecret, { operator: values.operator === true, expiresIn });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      operator: { type: 'boolean' },
      expires: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

try {
  const token = await main(process.argv.slice(2));
  if (token !== undefined) console.log(token);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`npm run token: ${error.message} (see npm run token -- --help)`);
    process.exitCode = 2;
  } else if (error instanceof ConfigError) {
    console.error(`npm run token: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`npm run token: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
