// npm run schema:print  -> writes schema/schema.graphql from the Pothos schema
// npm run schema:check  -> exits 1 (with a diff hint) when the committed file has drifted
import { readFileSync, writeFileSync } from 'node:fs';
import { printSchemaFile, SCHEMA_FILE } from '../src/app/print-schema.js';

const printed = printSchemaFile();
if (process.argv.includes('--check')) {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  if (committed !== printed) {
    console.error(`${SCHEMA_FILE} differs from the Pothos schema: run "npm run schema:print" and commit it`);
    process.exit(1);
  }
  console.log(`${SCHEMA_FILE} matches the Pothos schema`);
} else {
  writeFileSync(SCHEMA_FILE, printed);
  console.log(`wrote ${SCHEMA_FILE}`);
}
