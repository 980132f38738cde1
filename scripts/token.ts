// npm run token -- <customerId> [--operator] [--expires 12h]
// Prints a viewer token signed with AUTH_SECRET (or the development secret when it is unset).
import { signToken } from '../src/app/auth.js';
import { loadConfig } from '../src/config.js';

const args = process.argv.slice(2);
const customerId = args.find((arg) => /^[1-9][0-9]*$/.test(arg));
const expiresAt = args.indexOf('--expires');
if (customerId === undefined) {
  console.error('usage: npm run token -- <customerId> [--operator] [--expires 12h]');
  process.exit(2);
}
const config = loadConfig();
const token = await signToken(Number(customerId), config.authSecret, {
  operator: args.includes('--operator'),
  ...(expiresAt >= 0 && args[expiresAt + 1] ? { expiresIn: args[expiresAt + 1] } : {}),
});
console.log(token);
