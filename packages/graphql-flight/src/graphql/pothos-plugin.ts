import { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { InvalidOptionError, positiveMs } from '../errors.js';
import { cachedResolver, checkFieldTags, type FieldTags } from './field-cache.js';
import { checkFreshness, type FreshnessPolicy, responseWindows } from './freshness-policy.js';
import type { FieldCachePolicy } from './pothos-types.js';
import { type CachePolicyExtension, POLICY_EXTENSION } from './response-policy.js';

/**
 * Pothos plugin: a field with a `cache` option resolves through `FlightCache.remember`, so
 * concurrent operations asking for the same result share one execution of its resolver and later
 * ones read the stored value until `ttlMs` passes. Fields without the option are returned as they
 * are: no wrapper on their path.
 *
 * What is cached is the resolver's return value (plain data: with Redis it must be
 * JSON-serialisable); the fields below it still resolve on it per operation. The resolver that
 * runs is the first caller's, with its context and info: a PUBLIC resolver must not depend on
 * who asks, and a PRIVATE one only on the viewer, which is part of the key.
 *
 * Every policy is also published as the field's `graphqlFlightCache` extension (and the private
 * roots are marked), which is what the response cache reads; `hintOnly: true` publishes the
 * policy without wrapping the resolver.
 */
export class PothosCachePolicyPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  /**
   * Publishes each field's policy as the `graphqlFlightCache` field extension (what the response
   * cache reads), and marks the private roots, after checking the option.
   */
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    const checked = this.#policy(fieldConfig);
    const policy = checked?.policy;
    const privateRoot =
      fieldConfig.kind === 'Query' &&
      (this.builder.options.cachePolicy?.privateRoots ?? ['viewer']).includes(fieldConfig.name);
    if (policy === undefined && !privateRoot) return fieldConfig;
    const extension: CachePolicyExtension = {
      ...(policy === undefined ? {} : { ttlMs: policy.ttlMs }),
      ...responseWindows(checked?.freshness),
      ...(policy?.scope === undefined ? {} : { scope: policy.scope }),
      ...(privateRoot ? { privateRoot: true } : {}),
    };
    return { ...fieldConfig, extensions: { ...fieldConfig.extensions, [POLICY_EXTENSION]: extension } };
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const checked = this.#policy(fieldConfig);
    if (checked === undefined || checked.policy.hintOnly === true) return resolver;
    const { policy, freshness } = checked;

    const options = this.builder.options.cachePolicy!;
    return cachedResolver(
      resolver,
      {
        coordinate: `${fieldConfig.parentType}.${fieldConfig.name}`,
        ttlMs: policy.ttlMs,
        ...freshness,
        scope: policy.scope,
        key: policy.key,
        tags: policy.tags as FieldTags<Types['Context']> | undefined,
      },
      {
        cache: options.cache,
        viewer: options.viewer,
        privateRoots: new Set(options.privateRoots ?? ['viewer']),
      },
    );
  }

  /**
   * The field's `cache` option and its freshness options, checked (a bad one throws when the
   * schema is built), or undefined.
   */
  #policy(
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): { policy: FieldCachePolicy<Types, never, never>; freshness: FreshnessPolicy } | undefined {
    const policy = fieldConfig.pothosOptions.cache as FieldCachePolicy<Types, never, never> | undefined;
    if (policy === undefined) return undefined;
    const coordinate = `${fieldConfig.parentType}.${fieldConfig.name}`;
    if (this.builder.options.cachePolicy === undefined) {
      throw new InvalidOptionError(
        'cachePolicy',
        `set on the SchemaBuilder (field ${coordinate} has a cache option)`,
        undefined,
      );
    }
    if (fieldConfig.kind === 'Mutation' || fieldConfig.kind === 'Subscription') {
      throw new InvalidOptionError(
        `${coordinate} cache`,
        'absent: mutation and subscription fields are never cached',
        policy,
      );
    }
    positiveMs(`${coordinate} cache.ttlMs`, policy.ttlMs);
    if (policy.scope !== undefined && policy.scope !== 'PUBLIC' && policy.scope !== 'PRIVATE') {
      throw new InvalidOptionError(`${coordinate} cache.scope`, "'PUBLIC' or 'PRIVATE'", policy.scope);
    }
    if (policy.hintOnly !== undefined && typeof policy.hintOnly !== 'boolean') {
      throw new InvalidOptionError(`${coordinate} cache.hintOnly`, 'a boolean', policy.hintOnly);
    }
    checkFieldTags(`${coordinate} cache.tags`, policy.tags);
    const freshness = checkFreshness(policy, policy.ttlMs, {
      option: (name) => `${coordinate} cache.${name}`,
    });
    // A hint-only field's resolver is not wrapped: options only the field cache reads would do nothing.
    if (policy.hintOnly === true) {
      for (const name of ['softTimeoutMs', 'earlyRefresh'] as const) {
        if (freshness[name] !== undefined) {
          throw new InvalidOptionError(
            `${coordinate} cache.${name}`,
            'absent with hintOnly (the resolver is not wrapped: give it to your own remember call)',
            policy[name],
          );
        }
      }
    }
    return { policy, freshness };
  }
}
