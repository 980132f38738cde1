import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from './schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));

/** The committed form of the schema: sorted, printed, with a header saying where it comes from. */
export function printSchemaFile(): string {
  return `# Printed from the Pothos schema (src/app/schema.ts) by "npm run schema:print". Do not edit.\n\n${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
