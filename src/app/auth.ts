import { GraphQLError } from 'graphql';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/** The verified viewer of a request: a customer, possibly with the operator role. */
export interface Viewer {
  customerId: number;
  operator: boolean;
}

/** The realm of every `WWW-Authenticate: Bearer` challenge this server sends (RFC 6750 §3). */
export const BEARER_REALM = 'graphql-flight';

/**
 * The `WWW-Authenticate` value of a 401 (RFC 6750 §3): the bare realm when no token was sent but
 * one is required, `error="invalid_token"` with a description when the token sent was refused.
 * The description keeps to the characters RFC 6750 allows in it (a `"` becomes `'`).
 */
export function bearerChallenge(invalidToken?: { description: string }): string {
  const realm = `Bearer realm="${BEARER_REALM}"`;
  if (invalidToken === undefined) return realm;
  const description = invalidToken.description
    .replaceAll('"', "'")
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
  return `${realm}, error="invalid_token", error_description="${description}"`;
}

/**
 * A 401 UNAUTHENTICATED error with its `WWW-Authenticate` challenge (Yoga sets the headers of
 * `extensions.http`). `invalidToken`: a token was sent and refused; otherwise none was sent.
 */
export function unauthenticated(message: string, options: { invalidToken?: boolean } = {}): GraphQLError {
  const challenge = bearerChallenge(options.invalidToken ? { description: message } : undefined);
  return new GraphQLError(message, {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: { 'WWW-Authenticate': challenge } },
    },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
}

/** How long a token may live (`exp` - `iat`) when TOKEN_MAX_LIFETIME is unset: 30 days. */
export const DEFAULT_TOKEN_MAX_LIFETIME = '30d';

/** How far in the future a token's `iat` may be (clock skew between the issuer and this server). */
export const CLOCK_TOLERANCE_SECONDS = 60;

const DURATION_UNITS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/**
 * The seconds of a duration written `<n>s`, `<n>m`, `<n>h` or `<n>d` (n a positive integer of at
 * most 9 digits: `90s`, `15m`, `12h`, `30d`), or undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] as keyof typeof DURATION_UNITS];
}

/** A number of seconds in the largest unit that writes it whole (`2592000` is `30d`). */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (seconds % DURATION_UNITS[unit] === 0) return `${seconds / DURATION_UNITS[unit]}${unit}`;
  }
  return `${seconds}s`;
}

/** What verifyViewer accepts beyond the signature. */
export interface TokenPolicy {
  /** The longest lifetime a token may have, in seconds (TOKEN_MAX_LIFETIME). Default 30 days. */
  maxLifetimeSeconds?: number | undefined;
}

/**
 * The viewer named by `Authorization: Bearer <HS256 JWT>`, or null without the header. A header
 * that is present but malformed, badly signed or expired is an UNAUTHENTICATED error, never an
 * anonymous fallback. So is a token that could live too long:
 *
 * - without `exp` (a token must expire);
 * - whose lifetime is above `maxLifetimeSeconds`: `exp - iat`, or `exp - now` when it has no `iat`
 *   (so leaving `iat` out does not lift the bound);
 * - whose `iat` is in the future, beyond CLOCK_TOLERANCE_SECONDS.
 */
export async function verifyViewer(
  authorization: string | null,
  secret: Uint8Array,
  policy: TokenPolicy = {},
): Promise<Viewer | null> {
  if (authorization === null || authorization === '') return null;
  const invalid = (message: string) => unauthenticated(message, { invalidToken: true });
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
  if (match === null) throw invalid('the Authorization header must be "Bearer <token>"');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(match[1]!, secret, { algorithms: ['HS256'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw invalid('the token has expired');
    throw invalid('the token is not valid');
  }
  // jose checked that exp and iat, when present, are numbers, and that exp is not past.
  const { exp, iat } = payload as { exp?: number; iat?: number };
  if (exp === undefined) throw invalid('the token has no expiry ("exp"); tokens must expire');
  const now = Math.floor(Date.now() / 1_000);
  if (iat !== undefined && iat > now + CLOCK_TOLERANCE_SECONDS) {
    throw invalid('the token was issued in the future ("iat")');
  }
  const maxLifetime = policy.maxLifetimeSeconds ?? parseDuration(DEFAULT_TOKEN_MAX_LIFETIME)!;
  if (exp - (iat ?? now) > maxLifetime) {
    throw invalid(`the token lives longer than the maximum lifetime (${formatDuration(maxLifetime)})`);
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || !/^[1-9][0-9]{0,9}$/.test(sub)) {
    throw invalid('the token has no customer id in "sub"');
  }
  return { customerId: Number(sub), operator: payload.role === 'operator' };
}

/**
 * A token for `customerId` (and the operator role if asked), issued now and valid for `expiresIn`:
 * seconds, a duration parseDuration reads (`12h`), or one jose reads (`-1m`: an expired token).
 * Default 12 hours.
 */
export async function signToken(
  customerId: number,
  secret: Uint8Array,
  options: { operator?: boolean; expiresIn?: string | number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1_000);
  const expiresIn = options.expiresIn ?? '12h';
  // Our own durations are added to the same `now` as iat, so exp - iat is exactly the duration.
  const seconds = typeof expiresIn === 'number' ? expiresIn : parseDuration(expiresIn);
  return new SignJWT(options.operator ? { role: 'operator' } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(customerId))
    .setIssuedAt(now)
    .setExpirationTime(seconds === undefined ? expiresIn : now + seconds)
    .sign(secret);
}
