import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DocumentNode, parse, type TypeNode } from 'graphql';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL served by the server itself (issue 12): `@graphql-yoga/render-graphiql` inlines
 * GraphiQL's scripts, styles, editor workers and favicon in the page, so it works offline and
 * behind a firewall (Yoga's default page loads them from a CDN). The page is about 9 MB, sent
 * once per visit. The bundle (about 35 MB of heap once loaded) is imported on the first render,
 * so a server without GraphiQL (production) never loads it.
 */
export async function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  const bundle = await import('@graphql-yoga/render-graphiql');
  return bundle.renderGraphiQL(options);
}

/**
 * The shop's example operations: schema/operations beside src/ and dist/, so `npm start`
 * (dist/main.js), tsx and the tests all find it whatever the working directory.
 */
export const OPERATIONS_DIR = fileURLToPath(new URL('../schema/operations/', import.meta.url));

/** The title of the page and of the browser tab. */
export const GRAPHIQL_TITLE = 'graphql-flight shop';

/** One GraphiQL tab: the query editor's text, and the variables editor's JSON. */
export interface OperationTab {
  query: string;
  variables: string;
}

/**
 * The comment each tab opens with: how to run it, and how to send a token. It sits in the query
 * (a comment is ignored by the server), not in the headers: GraphiQL's headers are JSON, which
 * holds no comment, and a placeholder there would be sent as a broken Authorization header.
 */
export function tabHint(file: string): string {
  // Short lines: the query editor is about 50 columns wide at GraphiQL's default layout.
  return [
    `# schema/operations/${file}`,
    '# Run: Ctrl-Enter or the run button (with several',
    '# operations, the button asks which one).',
    '# Token: `npm run token -- 1` (customer 1: viewer,',
    '# placeOrder; add --operator for flightStats and',
    '# updateProductPrice). Paste it under Headers:',
    '# {"Authorization": "Bearer <token>"}',
    '',
  ].join('\n');
}

/**
 * Reads every `*.graphql` file of `dir` (by file name) into a tab: the hint, then the file's
 * operations as written, with example values for their required variables. Throws a one-line
 * error naming the file when one cannot be read or does not parse, so a broken example fails the
 * start instead of opening a tab that cannot run.
 */
export function loadOperationTabs(dir: string = OPERATIONS_DIR): OperationTab[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((name) => name.endsWith('.graphql'))
      .sort();
  } catch (error) {
    throw new Error(`GraphiQL: cannot read the example operations in ${dir}: ${messageOf(error)}`);
  }
  if (files.length === 0) throw new Error(`GraphiQL: no *.graphql example operations in ${dir}`);
  return files.map((file) => {
    const path = `${dir.replace(/\/$/, '')}/${file}`;
    let text: string;
    let document: DocumentNode;
    try {
      text = readFileSync(path, 'utf8');
      document = parse(text);
    } catch (error) {
      throw new Error(`GraphiQL: example operation ${path}: ${messageOf(error).split('\n')[0]}`);
    }
    // The tabs travel as JSON inside the page's inline <script>, where this would end the script.
    if (/<\/?script/i.test(text)) {
      throw new Error(
        `GraphiQL: example operation ${path} contains "<script" or "</script", which the page cannot hold`,
      );
    }
    return {
      query: `${tabHint(file)}${text.trimEnd()}\n`,
      variables: JSON.stringify(exampleVariables(document), null, 2),
    };
  });
}

/**
 * A value for each required variable of the document's operations, so that every operation of a
 * tab runs as it opens: `"1"` for an ID (the seed's first product and customer), 1 for a number,
 * a list of one. Optional variables are left out: the field's default applies.
 */
export function exampleVariables(document: DocumentNode): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const definition of document.definitions) {
    if (definition.kind !== 'OperationDefinition') continue;
    for (const variable of definition.variableDefinitions ?? []) {
      if (variable.type.kind !== 'NonNullType' || variable.defaultValue !== undefined) continue;
      const value = exampleValue(variable.type);
      if (value !== undefined) variables[variable.variable.name.value] = value;
    }
  }
  return variables;
}

function exampleValue(type: TypeNode): unknown {
  if (type.kind === 'NonNullType') return exampleValue(type.type);
  if (type.kind === 'ListType') {
    const item = exampleValue(type.type);
    return item === undefined ? [] : [item];
  }
  switch (type.name.value) {
    case 'ID':
      return '1';
    case 'Int':
    case 'Float':
      return 1;
    case 'String':
      return '';
    case 'Boolean':
      return false;
    default:
      // An input object or enum: the user fills it in (the server says what is missing).
      return undefined;
  }
}

/**
 * The options of the shop's GraphiQL: its title, and the example operations as the tabs it opens
 * with (GraphiQL uses `defaultTabs` only when the browser has no tabs stored from an earlier visit).
 * Headers are not persisted in the browser's storage (GraphiQL's default), so a token pasted there
 * is gone with the page.
 */
export function createGraphiQLOptions(dir: string = OPERATIONS_DIR): GraphiQLOptions {
  return {
    title: GRAPHIQL_TITLE,
    defaultTabs: loadOperationTabs(dir),
    shouldPersistHeaders: false,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
