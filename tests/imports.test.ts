import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('the server and the library', () => {
  it('imports the library by its package name only, never by a path into packages/', () => {
    const byPath: string[] = [];
    const byName = new Set<string>();
    for (const file of sources(SRC)) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
        if (specifier?.includes('packages/') || specifier?.includes('graphql-flight/src')) {
          byPath.push(`${relative(SRC, file)} -> ${specifier}`);
        }
        if (specifier?.startsWith('graphql-flight')) byName.add(specifier);
      }
    }
    expect(byPath).toEqual([]);
    expect([...byName].sort()).toEqual([
      'graphql-flight',
      'graphql-flight/graphql',
      'graphql-flight/loaders',
      'graphql-flight/pothos',
    ]);
  });
});
