import { type ConstDirectiveNode, type ConstValueNode, Kind } from 'graphql';
import { InvalidOptionError } from '../errors.js';
import { checkFreshness, type FreshnessOption, type FreshnessPolicy } from './freshness-policy.js';
import type { CachePolicyExtension } from './response-policy.js';

/**
 * The SDL of the `@cacheControl` directive, to put in the type definitions of a schema that
 * `applyCachePolicies` reads (`createSchema({ typeDefs: [cacheControlDirective, typeDefs] })`):
 * Apollo Server's arguments (`maxAge`, `scope`, `inheritMaxAge`), and issue 13's freshness
 * arguments. `staleWhileRevalidate` and `staleIfError` are in seconds like `maxAge` (RFC 5861's
 * names), `softTimeoutMs` in milliseconds, `earlyRefreshBeta` the XFetch beta (> 0). A schema that
 * declares Apollo's own definition works as before, without the new arguments.
 */
export const cacheControlDirective = `enum CacheControlScope {
  PUBLIC
  PRIVATE
}

directive @cacheControl(
  maxAge: Int
  scope: CacheControlScope
  inheritMaxAge: Boolean
  staleWhileRevalidate: Int
  staleIfError: Int
  softTimeoutMs: Int
  earlyRefreshBeta: Float
) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
`;

/** A hint read from `@cacheControl`: what is published, and the options only the field cache reads. */
export type DirectiveHint = CachePolicyExtension & Pick<FreshnessPolicy, 'softTimeoutMs' | 'earlyRefresh'>;

/** The directive's argument for each freshness option, and for ttlMs. */
const ARGUMENT: Record<FreshnessOption | 'ttlMs', string> = {
  ttlMs: 'maxAge',
  staleWhileRevalidateMs: 'staleWhileRevalidate',
  staleIfErrorMs: 'staleIfError',
  softTimeoutMs: 'softTimeoutMs',
  earlyRefresh: 'earlyRefreshBeta',
  'earlyRefresh.beta': 'earlyRefreshBeta',
};

/**
 * The hint of the first `@cacheControl` among `nodes` (a type's definition, then its extensions,
 * as Apollo reads them), or undefined when none has one. `maxAge` is in seconds (`ttlMs` = maxAge ×
 * 1000); with `inheritMaxAge: true` it is ignored, as Apollo ignores it. `staleWhileRevalidate` and
 * `staleIfError` are seconds too (`staleWhileRevalidateMs`, `staleIfErrorMs`), `softTimeoutMs`
 * milliseconds, `earlyRefreshBeta` gives `earlyRefresh: { beta }`; they are checked as
 * checkFreshness checks them, and need a `maxAge` > 0 in the same directive. Throws
 * InvalidOptionError, naming `coordinate`, for a negative maxAge or window, a scope other than
 * PUBLIC and PRIVATE, or a freshness argument refused; `softTimeoutMs` and `earlyRefreshBeta` on a
 * type (`on: 'type'`), which wraps no resolver, are refused too.
 */
export function hintFromDirectives(
  nodes: readonly ({ readonly directives?: readonly ConstDirectiveNode[] | undefined } | null | undefined)[],
  coordinate: string,
  on: 'field' | 'type',
): DirectiveHint | undefined {
  for (const node of nodes) {
    const directive = node?.directives?.find((d) => d.name.value === 'cacheControl');
    if (directive === undefined) continue;
    const argument = (name: string) => directive.arguments?.find((a) => a.name.value === name)?.value;
    const maxAge = argument('maxAge');
    const scope = argument('scope');
    const inheritMaxAge = argument('inheritMaxAge');
    const hint: DirectiveHint = {};
    if (scope !== undefined && scope.kind !== Kind.NULL) {
      const value = scope.kind === Kind.ENUM || scope.kind === Kind.STRING ? scope.value : scope.kind;
      if (value !== 'PUBLIC' && value !== 'PRIVATE') {
        throw new InvalidOptionError(`@cacheControl scope of ${coordinate}`, 'PUBLIC or PRIVATE', value);
      }
      hint.scope = value;
    }
    if (inheritMaxAge?.kind === Kind.BOOLEAN && inheritMaxAge.value) {
      hint.inheritMaxAge = true;
    } else if (maxAge?.kind === Kind.INT) {
      const seconds = Number.parseInt(maxAge.value, 10);
      if (seconds < 0) {
        throw new InvalidOptionError(
          `@cacheControl maxAge of ${coordinate}`,
          'a non-negative number of seconds',
          seconds,
        );
      }
      hint.ttlMs = seconds * 1_000;
    }
    return withFreshness(hint, argument, coordinate, on);
  }
  return undefined;
}

/** `hint` with the directive's freshness arguments, checked (see hintFromDirectives). */
function withFreshness(
  hint: DirectiveHint,
  argument: (name: string) => ConstValueNode | undefined,
  coordinate: string,
  on: 'field' | 'type',
): DirectiveHint {
  const option = (name: FreshnessOption | 'ttlMs') => `@cacheControl ${ARGUMENT[name]} of ${coordinate}`;
  const given = (name: string) => {
    const value = argument(name);
    return value === undefined || value.kind === Kind.NULL ? undefined : value;
  };
  const values: Partial<Record<keyof FreshnessPolicy, unknown>> = {};
  const shown: Partial<Record<keyof FreshnessPolicy, unknown>> = {};
  for (const name of ['staleWhileRevalidateMs', 'staleIfErrorMs'] as const) {
    const value = given(ARGUMENT[name]);
    if (value === undefined) continue;
    const seconds = value.kind === Kind.INT ? Number.parseInt(value.value, 10) : undefined;
    if (seconds === undefined || seconds < 0) {
      throw new InvalidOptionError(
        option(name),
        'a non-negative Int number of seconds',
        seconds ?? literal(value),
      );
    }
    values[name] = seconds * 1_000;
    shown[name] = seconds;
  }
  const softTimeout = given('softTimeoutMs');
  if (softTimeout !== undefined) {
    if (softTimeout.kind !== Kind.INT) {
      throw new InvalidOptionError(
        option('softTimeoutMs'),
        'an Int number of milliseconds',
        literal(softTimeout),
      );
    }
    values.softTimeoutMs = Number.parseInt(softTimeout.value, 10);
    shown.softTimeoutMs = values.softTimeoutMs;
  }
  const beta = given('earlyRefreshBeta');
  if (beta !== undefined) {
    if (beta.kind !== Kind.INT && beta.kind !== Kind.FLOAT) {
      throw new InvalidOptionError(option('earlyRefresh.beta'), 'a positive, finite number', literal(beta));
    }
    values.earlyRefresh = { beta: Number(beta.value) };
    shown.earlyRefresh = Number(beta.value);
  }
  const first = (Object.keys(values) as (keyof FreshnessPolicy)[])[0];
  if (first === undefined) return hint;
  if (on === 'type') {
    for (const name of ['softTimeoutMs', 'earlyRefresh'] as const) {
      if (values[name] !== undefined) {
        throw new InvalidOptionError(
          option(name),
          'absent on a type (a type hint wraps no resolver): put it on the field',
          shown[name],
        );
      }
    }
  }
  // Checked here rather than by checkFreshness, so the error shows the value as written (seconds).
  if (!(hint.ttlMs !== undefined && hint.ttlMs > 0)) {
    throw new InvalidOptionError(
      option(first),
      'absent without a maxAge > 0 in the same @cacheControl (a window follows the fresh period)',
      shown[first],
    );
  }
  return {
    ...hint,
    ...checkFreshness(values, hint.ttlMs, { option, short: (name) => ARGUMENT[name] }),
  };
}

/** A literal of the wrong kind, for an error message: its value or its kind. */
function literal(value: ConstValueNode): unknown {
  return 'value' in value && typeof value.value !== 'object' ? value.value : value.kind;
}
