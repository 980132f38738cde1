import { type ConstDirectiveNode, Kind } from 'graphql';
import { InvalidOptionError } from '../errors.js';
import type { CachePolicyExtension } from './response-policy.js';

/**
 * The SDL of Apollo Server's `@cacheControl` directive, to put in the type definitions of a schema
 * that `applyCachePolicies` reads (`createSchema({ typeDefs: [cacheControlDirective, typeDefs] })`).
 */
export const cacheControlDirective = `enum CacheControlScope {
  PUBLIC
  PRIVATE
}

directive @cacheControl(
  maxAge: Int
  scope: CacheControlScope
  inheritMaxAge: Boolean
) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
`;

/**
 * The hint of the first `@cacheControl` among `nodes` (a type's definition, then its extensions,
 * as Apollo reads them), or undefined when none has one. `maxAge` is in seconds (`ttlMs` = maxAge ×
 * 1000); with `inheritMaxAge: true` it is ignored, as Apollo ignores it. Throws InvalidOptionError,
 * naming `coordinate`, for a negative maxAge or a scope other than PUBLIC and PRIVATE.
 */
export function hintFromDirectives(
  nodes: readonly ({ readonly directives?: readonly ConstDirectiveNode[] | undefined } | null | undefined)[],
  coordinate: string,
): CachePolicyExtension | undefined {
  for (const node of nodes) {
    const directive = node?.directives?.find((d) => d.name.value === 'cacheControl');
    if (directive === undefined) continue;
    const argument = (name: string) => directive.arguments?.find((a) => a.name.value === name)?.value;
    const maxAge = argument('maxAge');
    const scope = argument('scope');
    const inheritMaxAge = argument('inheritMaxAge');
    const hint: CachePolicyExtension = {};
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
    return hint;
  }
  return undefined;
}
