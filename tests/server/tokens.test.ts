import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import { createCache } from 'graphql-flight';
import { createSchema, createYoga } from 'graphql-yoga';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_SECONDS, verifyViewer } from '../../src/app/auth.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { useMetrics } from '../../src/plugins/use-metrics.js';
import { PlaceOrderDocument, SalesSummaryDocument, ViewerDocument } from '../generated/graphql.js';
import { send } from '../helpers/http.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/server.js';

/** One hour: the TOKEN_MAX_LIFETIME of the server under test. */
const MAX = 3_600;
const now = () => Math.floor(Date.now() / 1_000);

/** A token signed with the test secret, with exactly the claims given (no exp or iat unless set). */
function forge(claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(TEST_SECRET);
}

const challenge = (description: string) =>
  `Bearer realm="graphql-flight", error="invalid_token", error_description="${description}"`;

describe('tokens at the server (TOKEN_MAX_LIFETIME=1h)', () => {
  let t: TestServer;
  let http: HttpServer;
  let url: string;
  beforeAll(async () => {
    t = await startTestServer({ config: { tokenMaxLifetimeSeconds: MAX } });
    http = createHttpServer(t.server.handler); // as main.ts serves it
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve));
    await t.close();
  });

  /** The viewer query with `token`: its status, first error and WWW-Authenticate. */
  const viewerWith = async (token: string) => {
    const reply = await send(t, ViewerDocument, { token });
    return {
      status: reply.status,
      error: reply.body.errors?.[0],
      data: reply.body.data,
      challenge: reply.headers.get('www-authenticate'),
    };
  };

  it('refuses a token without exp, an operator token included: 401 UNAUTHENTICATED', async () => {
    for (const claims of [
      { sub: '1', iat: now() },
      { sub: '1', iat: now(), role: 'operator' },
      { sub: '1' },
    ]) {
      const reply = await viewerWith(await forge(claims));
      expect(reply.status).toBe(401);
      expect(reply.error).toMatchObject({
        message: 'the token has no expiry ("exp"); tokens must expire',
        extensions: { code: 'UNAUTHENTICATED' },
      });
      expect(reply.data).toBeUndefined();
    }
    const operator = await forge({ sub: '1', role: 'operator', iat: now() });
    const stats = await send(t, '{ flightStats { started } }', { token: operator });
    expect(stats.status).toBe(401);
    expect(stats.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token whose exp - iat is above the maximum lifetime, and accepts one at it', async () => {
    const iat = now();
    const long = await viewerWith(await forge({ sub: '1', iat, exp: iat + MAX + 1 }));
    expect(long.status).toBe(401);
    expect(long.error).toMatchObject({
      message: 'the token lives longer than the maximum lifetime (1h)',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    // Issued long ago and valid a little longer still: its lifetime is what counts, not what is left.
    const old = await viewerWith(await forge({ sub: '1', iat: iat - 2 * MAX, exp: iat + 60 }));
    expect(old.status).toBe(401);
    expect(old.error?.message).toBe('the token lives longer than the maximum lifetime (1h)');

    const atMax = await viewerWith(await forge({ sub: '1', iat, exp: iat + MAX }));
    expect(atMax.status).toBe(200);
    expect(atMax.data).toEqual({ viewer: expect.objectContaining({ id: '1' }) });
  });

  it('measures a token without iat from now: exp - now above the maximum is refused', async () => {
    const long = await viewerWith(await forge({ sub: '1', exp: now() + MAX + 120 }));
    expect(long.status).toBe(401);
    expect(long.error?.message).toBe('the token lives longer than the maximum lifetime (1h)');
    const short = await viewerWith(await forge({ sub: '1', exp: now() + MAX / 2 }));
    expect(short.status).toBe(200);
    expect(short.data).toEqual({ viewer: expect.objectContaining({ id: '1' }) });
  });

  it('refuses a token issued in the future beyond the clock tolerance, and accepts one within it', async () => {
    const future = now() + CLOCK_TOLERANCE_SECONDS + 60;
    const ahead = await viewerWith(await forge({ sub: '1', iat: future, exp: future + 60 }));
    expect(ahead.status).toBe(401);
    expect(ahead.error).toMatchObject({
      message: 'the token was issued in the future ("iat")',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const skewed = now() + CLOCK_TOLERANCE_SECONDS / 2;
    const within = await viewerWith(await forge({ sub: '1', iat: skewed, exp: skewed + 60 }));
    expect(within.status).toBe(200);
  });

  it('answers every GraphQL 401 with WWW-Authenticate: Bearer (invalid_token when a token was refused)', async () => {
    const bad = await viewerWith('bad.token.here');
    expect(bad.status).toBe(401);
    expect(bad.challenge).toBe(challenge('the token is not valid'));
    const expired = await viewerWith(await t.token(1, { expiresIn: '-1m' }));
    expect(expired.challenge).toBe(challenge('the token has expired'));
    const noExp = await viewerWith(await forge({ sub: '1' }));
    expect(noExp.challenge).toBe(challenge("the token has no expiry ('exp'); tokens must expire"));
    const scheme = await send(t, ViewerDocument, {});
    expect(scheme.headers.get('www-authenticate')).toBeNull(); // anonymous and allowed: no challenge
    const basic = await t.server.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: print(ViewerDocument) }),
    });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe(
      challenge("the Authorization header must be 'Bearer <token>'"),
    );

    // No token where one is required: the bare challenge, without an error code (RFC 6750 §3.1).
    const anonymous = await send(t, PlaceOrderDocument, { variables: { productId: '1', quantity: 1 } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="graphql-flight"');
  });

  it("answers /metrics' 401 on PORT with WWW-Authenticate: Bearer and the token's own error", async () => {
    const none = await t.server.yoga.fetch('http://localhost/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="graphql-flight"');
    const scrape = (token: string) =>
      t.server.yoga.fetch('http://localhost/metrics', { headers: { authorization: `Bearer ${token}` } });
    const bad = await scrape('not.a-valid.token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe(challenge('the token is not valid'));
    // The maximum lifetime reaches /metrics' authorize: a 2h operator token is refused here.
    const iat = now();
    const long = await scrape(await forge({ sub: '1', role: 'operator', iat, exp: iat + 2 * MAX }));
    expect(long.status).toBe(401);
    expect(long.headers.get('www-authenticate')).toBe(
      challenge('the token lives longer than the maximum lifetime (1h)'),
    );
    const noExp = await scrape(await forge({ sub: '1', role: 'operator', iat }));
    expect(noExp.status).toBe(401);
    expect((await scrape(await t.token(1, { operator: true, expiresIn: '1h' }))).status).toBe(200);
  });

  const post = (token?: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ query: print(SalesSummaryDocument) }),
    });

  it('never serves a cached response to a token it refuses: the 401 has its WWW-Authenticate', async () => {
    expect((await post()).headers.get('x-cache')).toBe('MISS');
    const valid = await post(await t.token(3, { expiresIn: '1h' }));
    expect(valid.headers.get('x-cache')).toBe('HIT');
    const iat = now();
    for (const [token, description] of [
      [await forge({ sub: '3', iat }), "the token has no expiry ('exp'); tokens must expire"],
      // Valid under the default 30d, too long for this server: authorize applies its maximum.
      [
        await forge({ sub: '3', iat, exp: iat + 2 * MAX }),
        'the token lives longer than the maximum lifetime (1h)',
      ],
      ['bad.token.here', 'the token is not valid'],
    ] as const) {
      const refused = await post(token);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('x-cache')).not.toBe('HIT');
      expect(refused.headers.get('www-authenticate')).toBe(challenge(description));
      const body = (await refused.json()) as {
        data?: unknown;
        errors: Array<{ extensions: { code: string } }>;
      };
      expect(body.data).toBeUndefined();
      expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe("the metrics plugin's challenge", () => {
  it('names its realm, and adds invalid_token when authorize rejects without a challenge of its own', async () => {
    const cache = createCache();
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { a: Int }' }),
      plugins: [
        useMetrics({
          cacheStats: () => cache.stats(),
          authorize: async () => {
            throw new Error('the directory is down');
          },
          realm: 'shop',
        }),
      ],
    });
    try {
      const none = await yoga.fetch('http://localhost/metrics');
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="shop"');
      const refused = await yoga.fetch('http://localhost/metrics', {
        headers: { authorization: 'Bearer x.y.z' },
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="shop", error="invalid_token"');
      expect(await refused.text()).not.toContain('directory');
    } finally {
      await cache.close();
    }
  });
});

describe('TOKEN_MAX_LIFETIME', () => {
  it('is 30 days by default, and reads <n>s, <n>m, <n>h or <n>d', () => {
    expect(loadConfig({}).tokenMaxLifetimeSeconds).toBe(30 * 86_400);
    expect(loadConfig({ TOKEN_MAX_LIFETIME: '720h' }).tokenMaxLifetimeSeconds).toBe(30 * 86_400);
    expect(loadConfig({ TOKEN_MAX_LIFETIME: '90s' }).tokenMaxLifetimeSeconds).toBe(90);
    expect(loadConfig({ TOKEN_MAX_LIFETIME: '15m' }).tokenMaxLifetimeSeconds).toBe(900);
    expect(loadConfig({ TOKEN_MAX_LIFETIME: '365d' }).tokenMaxLifetimeSeconds).toBe(365 * 86_400);
  });

  it('refuses anything else with a ConfigError naming the variable', () => {
    for (const value of ['bogus', '0d', '-1d', '1w', '1.5h', '30', 'd', '1 h', '1234567890s']) {
      expect(() => loadConfig({ TOKEN_MAX_LIFETIME: value })).toThrow(ConfigError);
      expect(() => loadConfig({ TOKEN_MAX_LIFETIME: value })).toThrow(
        `TOKEN_MAX_LIFETIME must be a duration <n>s, <n>m, <n>h or <n>d (n a positive integer of at most 9 digits, e.g. 30d); received ${JSON.stringify(value)}`,
      );
    }
  });

  it('applies the default (30d) when the server is given none', async () => {
    const iat = now();
    const month = await forge({ sub: '1', iat, exp: iat + 30 * 86_400 });
    await expect(verifyViewer(`Bearer ${month}`, TEST_SECRET)).resolves.toEqual({
      customerId: 1,
      operator: false,
    });
    const longer = await forge({ sub: '1', iat, exp: iat + 30 * 86_400 + 1 });
    await expect(verifyViewer(`Bearer ${longer}`, TEST_SECRET)).rejects.toThrow(
      'the token lives longer than the maximum lifetime (30d)',
    );
  });
});
