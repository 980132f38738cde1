// Runs one scenario and prints its raw result: node --import tsx bench/lib/run-one.ts <file> [--quick]
import { createContext } from './context.js';
import type { Scenario } from './types.js';

const file = process.argv[2];
if (!file) throw new Error('usage: run-one.ts <scenario file> [--quick]');
const { scenario } = (await import(
  new URL(`../scenarios/${file.replace(/\.ts$/, '')}.ts`, import.meta.url).href
)) as {
  scenario: Scenario;
};
const ctx = await createContext(process.argv);
const result = await scenario.run(ctx);
ctx.progress('');
console.log(JSON.stringify(result, null, 2));
process.exit(0);
