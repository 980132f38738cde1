// Installs the peers of bench/package.json on first use, and again when bench/package-lock.json
// names a version that is not installed, so the root install stays lean and the versions measured
// are the locked ones.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const bench = new URL('./', import.meta.url);
const packagesOf = (file) =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).packages ?? {}) : {};
const locked = packagesOf(new URL('package-lock.json', bench));
const installed = packagesOf(new URL('node_modules/.package-lock.json', bench));
const missing = Object.entries(locked).filter(
  ([path, entry]) => path !== '' && !entry.optional && installed[path]?.version !== entry.version,
);
if (missing.length > 0) {
  console.error(
    `bench: installing the peers of bench/package.json (${missing.length} packages missing or changed)`,
  );
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: bench,
    stdio: 'inherit',
  });
}
