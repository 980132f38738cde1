import { GraphQLError } from 'graphql';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/** The verified viewer of a request: a customer, possibly with the operator role. */
export interface Viewer {
  customerId: number;
  operator: boolean;
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
}

/**
 * The viewer named by `Authorization: Bearer <HS256 JWT>`, or null without the header. A header
 * that is present but malformed, badly signed or expired is an UNAUTHENTICATED error, never an
 * anonymous fallback.
 */
export async function verifyViewer(authorization: string | null, secret: Uint8Array): Promise<Viewer | null> {
  if (authorization === null || authorization === '') return null;
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization);
  if (match === null) throw unauthenticated('the Authorization header must be "Bearer <token>"');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(match[1]!, secret, { algorithms: ['HS256'] }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw unauthenticated('the token has expired');
    throw unauthenticated('the token is not valid');
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || !/^[1-9][0-9]{0,9}$/.test(sub)) {
    throw unauthenticated('the token has no customer id in "sub"');
  }
  return { customerId: Number(sub), operator: payload.role === 'operator' };
}

/** A token for `customerId` (and the operator role if asked), valid for `expiresIn`. */
export async function signToken(
  customerId: number,
  secret: Uint8Array,
  options: { operator?: boolean; expiresIn?: string } = {},
): Promise<string> {
  return new SignJWT(options.operator ? { role: 'operator' } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(customerId))
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h')
    .sign(secret);
}
