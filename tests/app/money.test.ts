import { PGlite } from '@electric-sql/pglite';
import { graphql, GraphQLObjectType, GraphQLSchema, GraphQLString, parseValue, valueFromAST } from 'graphql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { averageCents, toCents } from '../../src/app/data/index.js';
import { toCount } from '../../src/app/data/money.js';
import { CentsScalar } from '../../src/app/scalars.js';

const DATABASE_URL = process.env.DATABASE_URL;

/** 2^53 + 1: the first integer a JS number cannot hold (Number gives 2^53). */
const PAST_2_53 = '9007199254740993';

/**
 * One row shaped like the shop's aggregates, past 2^53: a bigint column (total_cents), a
 * sum(bigint) (numeric), a count(*) and a sum(int) (int8), as each driver types them.
 */
const AGGREGATE = `SELECT max(v) AS total, sum(v) AS revenue, count(*) AS orders, sum(q) AS units
  FROM (VALUES (${PAST_2_53}::bigint, 3), (${PAST_2_53}::bigint, 4)) AS t(v, q)`;

const drivers: Array<{ label: string; query: () => Promise<Record<string, unknown>> }> = [
  {
    label: 'PGlite',
    query: async () => {
      const db = await PGlite.create();
      try {
        return (await db.query<Record<string, unknown>>(AGGREGATE)).rows[0]!;
      } finally {
        await db.close();
      }
    },
  },
  ...(DATABASE_URL === undefined
    ? []
    : [
        {
          label: 'pg',
          query: async () => {
            const client = new pg.Client({ connectionString: DATABASE_URL });
            await client.connect();
            try {
              return (await client.query(AGGREGATE)).rows[0] as Record<string, unknown>;
            } finally {
              await client.end();
            }
          },
        },
      ]),
];

describe('money in the data layer', () => {
  // Starting PGlite (WASM) takes seconds, more on a busy 2-core machine: a longer hang watchdog.
  it.each(drivers)(
    'converts amounts past 2^53 exactly as $label returns them',
    { timeout: 60_000 },
    async ({ query }) => {
      const row = await query();
      expect(toCents(row.total, 'total')).toBe(PAST_2_53);
      expect(toCents(row.revenue, 'revenue')).toBe('18014398509481986');
      expect(toCount(row.orders, 'orders')).toBe(2);
      expect(toCount(row.units, 'units')).toBe(7);
    },
  );

  it('converts every integer form a driver gives, canonically, and refuses anything inexact', () => {
    expect(toCents(2n ** 70n, 'x')).toBe('1180591620717411303424');
    expect(toCents(12, 'x')).toBe('12');
    expect(toCents('0012', 'x')).toBe('12');
    expect(toCents('-0', 'x')).toBe('0');
    expect(toCents('-7', 'x')).toBe('-7');
    expect(toCents('1500.00', 'x')).toBe('1500');
    for (const bad of ['12.5', '1e3', '', ' 1', '+1', 2 ** 53, 1.5, Number.NaN, null, undefined, {}]) {
      expect(() => toCents(bad, 'column revenue_cents'), String(bad)).toThrow(
        /^column revenue_cents is not an integer amount of cents/,
      );
    }
  });

  it('refuses a count past 2^53 - 1 rather than rounding it', () => {
    expect(toCount('9007199254740991', 'n')).toBe(Number.MAX_SAFE_INTEGER);
    expect(toCount(9007199254740991n, 'n')).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ['9007199254740992', 2n ** 53n, 2 ** 53, '1e3', '1.5', 1.5, '']) {
      expect(() => toCount(bad, 'column order_count'), String(bad)).toThrow(
        /^column order_count is not an exact count/,
      );
    }
  });

  it('rounds the average half up, exactly, past 2^53', () => {
    expect(averageCents('0', 0)).toBe('0');
    expect(averageCents('5', 2)).toBe('3'); // 2.5 up
    expect(averageCents('7', 3)).toBe('2'); // 2.33 down
    expect(averageCents('8', 3)).toBe('3'); // 2.67 up
    expect(averageCents('-5', 2)).toBe('-2'); // -2.5 up, towards +infinity
    // (2^53 + 1) / 1 and (2^54 + 3) / 2 = 2^53 + 1.5: a double has neither.
    expect(averageCents(PAST_2_53, 1)).toBe(PAST_2_53);
    expect(averageCents('18014398509481987', 2)).toBe('9007199254740994');
    expect(averageCents('100000000000000000000000000001', 2)).toBe('50000000000000000000000000001');
  });
});

describe('the Cents scalar', () => {
  it('serialises the data layer amounts as the same decimal strings, at any size', () => {
    expect(CentsScalar.serialize('10000000000')).toBe('10000000000');
    expect(CentsScalar.serialize('1180591620717411303424')).toBe('1180591620717411303424');
    expect(CentsScalar.serialize(2n ** 70n)).toBe('1180591620717411303424');
    expect(CentsScalar.serialize(1999)).toBe('1999');
    expect(CentsScalar.serialize('0')).toBe('0');
  });

  it('refuses to serialise anything that is not an exact integer', () => {
    for (const bad of [1.5, 2 ** 53, Number.NaN, '12.5', '012', '', true, null, {}]) {
      expect(() => CentsScalar.serialize(bad), String(bad)).toThrow(/^Cents cannot represent /);
    }
  });

  it('parses a canonical decimal string or an integer, and refuses the rest with one line', () => {
    expect(CentsScalar.parseValue('123')).toBe('123');
    expect(CentsScalar.parseValue(123)).toBe('123');
    expect(valueFromAST(parseValue('"1180591620717411303424"'), CentsScalar)).toBe('1180591620717411303424');
    expect(valueFromAST(parseValue('1180591620717411303424'), CentsScalar)).toBe('1180591620717411303424');
    expect(valueFromAST(parseValue('-0'), CentsScalar)).toBe('0');
    for (const bad of ['1.5', '1e3', '012', '+1', ' 1', '', 1.5, 2 ** 53, true, null, ['1']]) {
      expect(() => CentsScalar.parseValue(bad), JSON.stringify(bad)).toThrow(
        /^Cents must be an integer amount of cents, as a decimal string such as "1999" or an integer; received /,
      );
    }
    for (const literal of ['1.5', '"1.5"', 'true', '["1"]']) {
      expect(valueFromAST(parseValue(literal), CentsScalar), literal).toBeUndefined();
    }
  });

  it('answers an argument that is not an amount as a GraphQL error naming the scalar', async () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          echo: {
            type: GraphQLString,
            args: { amount: { type: CentsScalar } },
            resolve: (_root, args: { amount: string }) => args.amount,
          },
        },
      }),
    });
    expect(await graphql({ schema, source: '{ echo(amount: 10000000000000000000001) }' })).toEqual({
      data: { echo: '10000000000000000000001' },
    });
    const refused = await graphql({
      schema,
      source: 'query($a: Cents) { echo(amount: $a) }',
      variableValues: { a: '12.5' },
    });
    expect(refused.errors?.[0]?.message).toBe(
      'Variable "$a" got invalid value "12.5"; Cents must be an integer amount of cents, as a decimal string such as "1999" or an integer; received "12.5"',
    );
  });
});
