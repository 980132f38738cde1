import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { CENTS_PATTERN, type Cents, toCents } from './data/index.js';

export const CENTS_DESCRIPTION =
  'An integer amount of money in cents, serialised as a decimal string ("1999" is 19.99; "10000000000" is 100,000,000.00): exact at any size, where Int stops at 2^31 - 1 and a JSON number is exact only to 2^53. Sums over all orders are unbounded, so every amount that can grow past 2^31 (revenue, averages, order totals) is Cents. As an input it takes such a string (canonical: no leading zeros, no "+", no fraction or exponent) or an integer literal; anything else is refused.';

/**
 * The `Cents` scalar (issue 12). Its values inside the server are the data layer's `Cents`
 * strings; serialising one never fails for what the data layer returns, so no field of a
 * mutation's result can fail after the write. Strict both ways: output refuses anything that is
 * not an exact integer (a fractional or unsafe JS number), input refuses anything not canonical.
 */
export const CentsScalar = new GraphQLScalarType<Cents, string>({
  name: 'Cents',
  description: CENTS_DESCRIPTION,
  serialize(value) {
    if (typeof value === 'string' && CENTS_PATTERN.test(value)) return value;
    if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) {
      return toCents(value, 'Cents');
    }
    throw new GraphQLError(`Cents cannot represent ${describe(value)}: not an exact integer amount of cents`);
  },
  parseValue(value) {
    if (typeof value === 'string' && CENTS_PATTERN.test(value)) return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    throw new GraphQLError(`${EXPECTED}; received ${describe(value)}`);
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING && CENTS_PATTERN.test(ast.value)) return ast.value;
    // An Int literal keeps its digits as written (-?(0|[1-9][0-9]*)): exact at any length.
    if (ast.kind === Kind.INT) return ast.value === '-0' ? '0' : ast.value;
    throw new GraphQLError(`${EXPECTED}; received a ${ast.kind} literal`);
  },
});

const EXPECTED = 'Cents must be an integer amount of cents, as a decimal string such as "1999" or an integer';

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
