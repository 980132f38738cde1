import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** The library's layers, lowest first: a folder imports only from folders before it. */
const LAYERS = ['flight', 'store', 'fleet', 'cache', 'loaders', 'graphql'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every module specifier a file imports or re-exports (type-only ones included). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'/g),
  ].map((match) => (match[1] ?? match[2]) as string);
}

/** The folder of a file under src/ ('' for a file at src/ itself, such as errors.ts or index.ts). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? (parts[0] as string) : '';
}

describe('the layers of the library', () => {
  it('lets each folder import only from the folders before it and the shared src/ files', () => {
    const wrong: string[] = [];
    for (const file of sources(SRC)) {
      const from = folderOf(file);
      for (const specifier of specifiers(file)) {
        if (!specifier.startsWith('.')) continue;
        const target = resolve(dirname(file), specifier);
        const to = folderOf(target);
        if (to === from) continue;
        // src/errors.ts is shared by every layer; src/index.ts (the entry) may import any.
        if (
          to === ''
            ? relative(SRC, target) === 'errors.js'
            : from === '' || LAYERS.indexOf(to) < LAYERS.indexOf(from)
        )
          continue;
        wrong.push(`${relative(SRC, file)} -> ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps @pothos/core and dataloader out of everything graphql-flight and graphql-flight/graphql load', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of specifiers(file)) {
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
        else packages.add(specifier);
      }
    };
    visit(join(SRC, 'index.ts'));
    visit(join(SRC, 'graphql/index.ts'));
    expect(seen.size).toBeGreaterThan(20);
    expect([...packages].filter((name) => name.startsWith('@pothos/') || name === 'dataloader')).toEqual([]);
    // The Pothos entry does load it: the walk sees what it should.
    packages.clear();
    seen.clear();
    visit(join(SRC, 'graphql/pothos.ts'));
    expect(packages.has('@pothos/core')).toBe(true);
  });
});
