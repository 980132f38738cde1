import type { Row } from './types.js';

/**
 * A row's figures as goals read them: `value(key)` is null unless the row was measured (it did
 * not fail and made some calls), so a goal is never met by an empty round; `missing` says why not.
 */
export function goalFigures(row: Row | undefined): {
  value: (key: string) => number | null;
  missing: string;
} {
  const calls = row?.values.calls;
  const measured = row !== undefined && row.failed === undefined && typeof calls === 'number' && calls > 0;
  const missing =
    row === undefined ? 'not measured' : (row.failed ?? (measured ? '' : 'not measured (no calls made)'));
  return {
    value(key) {
      const v = row?.values[key];
      return measured && typeof v === 'number' && !Number.isNaN(v) ? v : null;
    },
    missing,
  };
}
