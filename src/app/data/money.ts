/**
 * Money and counts as the data layer hands them out (issue 12). Sums over all orders are
 * unbounded: `total_cents` is bigint and sum(bigint) is numeric, past 2^31 after one order at the
 * largest price and past 2^53 (where a JS number stops being exact) after about 900 000 such
 * orders. So an amount of money never goes through a JS number: it is a `Cents` string, converted
 * from whatever the driver returns (pg: int8 and numeric as strings; PGlite: numeric as a string,
 * int8 as a number when safe and a bigint otherwise) without losing a digit.
 */

/**
 * An integer amount of cents as a canonical decimal string: no sign unless negative, no leading
 * zeros, no fraction or exponent (`"0"`, `"1999"`, `"10000000000"`, `"-5"`). Exact at any size,
 * and a plain string for every cache tier (JSON has no bigint).
 */
export type Cents = string;

/** What a `Cents` string matches: canonical, so two equal amounts are equal strings. */
export const CENTS_PATTERN = /^(?:0|-?[1-9][0-9]*)$/;

/** The amount of `value` (a string, bigint or number a driver returned) as Cents; refuses anything not an exact integer. */
export function toCents(value: unknown, what: string): Cents {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string') {
    // numeric(…, 0) prints without a fraction; a numeric with scale prints "12.00": both exact.
    const integral = /^(-?)0*([0-9]+?)(?:\.0+)?$/.exec(value);
    if (integral !== null) {
      const [, sign, digits] = integral as unknown as [string, string, string];
      return digits === '0' ? '0' : `${sign}${digits}`;
    }
  }
  throw new TypeError(`${what} is not an integer amount of cents (${typeof value})`);
}

/**
 * A count (orders, units) as a JS number, exact: refused past 2^53 - 1 rather than rounded. The
 * counts the shop keeps grow by at most 1 000 per statement, so that bound is centuries away.
 */
export function toCount(value: unknown, what: string): number {
  const exact =
    (typeof value === 'number' && Number.isSafeInteger(value)) ||
    (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) ||
    (typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) && Number.isSafeInteger(Number(value)));
  if (exact) return Number(value);
  throw new TypeError(`${what} is not an exact count (${typeof value})`);
}

/**
 * `total / count` rounded half up (x.5 goes up), computed in bigint so it is exact at any size;
 * "0" when `count` is 0. `count` must be a non-negative integer.
 */
export function averageCents(total: Cents, count: number): Cents {
  if (count === 0) return '0';
  const numerator = 2n * BigInt(total) + BigInt(count);
  const denominator = 2n * BigInt(count);
  // floor(numerator / denominator): bigint division truncates towards zero, so a negative
  // quotient with a remainder is one too high.
  const quotient = numerator / denominator;
  return (numerator % denominator !== 0n && numerator < 0n ? quotient - 1n : quotient).toString();
}
