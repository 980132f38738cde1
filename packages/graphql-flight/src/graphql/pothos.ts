import './global-types.js';
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import {
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { InvalidOptionError, positiveMs } from '../errors.js';
import { defaultKeyParts, fieldCacheKey } from './field-key.js';
import { type CachePolicyExtension, POLICY_EXTENSION } from './response-policy.js';
import type { FieldCachePolicy } from './pothos-types.js';

export type { CachePolicyPluginOptions, FieldCachePolicy } from './pothos-types.js';
export type { CacheScope } from './types.js';

const pluginName = 'cachePolicy';
export default pluginName;

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
    const policy = this.#policy(fieldConfig);
    const privateRoot =
      fieldConfig.kind === 'Query' &&
      (this.builder.options.cachePolicy?.privateRoots ?? ['viewer']).includes(fieldConfig.name);
    if (policy === undefined && !privateRoot) return fieldConfig;
    const extension: CachePolicyExtension = {
      ...(policy === undefined ? {} : { ttlMs: policy.ttlMs }),
      ...(policy?.scope === undefined ? {} : { scope: policy.scope }),
      ...(privateRoot ? { privateRoot: true } : {}),
    };
    return { ...fieldConfig, extensions: { ...fieldConfig.extensions, [POLICY_EXTENSION]: extension } };
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const policy = this.#policy(fieldConfig);
    if (policy === undefined || policy.hintOnly === true) return resolver;

    const coordinate = `${fieldConfig.parentType}.${fieldConfig.name}`;
    const options = this.builder.options.cachePolicy!;
    const privateRoots = new Set(options.privateRoots ?? ['viewer']);
    const ttl = { ttlMs: policy.ttlMs };

    return (parent, args, context, info) => {
      const scope = policy.scope ?? (isUnderRoot(info, privateRoots) ? 'PRIVATE' : 'PUBLIC');
      let viewer: string | number | null = null;
      if (scope === 'PRIVATE') {
        viewer = options.viewer(context) ?? null;
        // Fail closed: without a verified viewer a private result is neither cached nor shared.
        if (viewer === null) return resolver(parent, args, context, info);
      }
      const parts = policy.key
        ? policy.key(parent as never, args as never, context)
        : defaultKeyParts(parent, args as Record<string, unknown>);
      return options
        .cache(context)
        .remember(
          fieldCacheKey(coordinate, viewer, parts),
          async () => resolver(parent, args, context, info),
          ttl,
        );
    };
  }

  /** The field's `cache` option, checked (a bad one throws when the schema is built), or undefined. */
  #policy(fieldConfig: PothosOutputFieldConfig<Types>): FieldCachePolicy<Types, never, never> | undefined {
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
    return policy;
  }
}

SchemaBuilder.registerPlugin(pluginName, PothosCachePolicyPlugin);

/** Root response key → root field name, per operation document (aliases resolved). */
const rootFieldNames = new WeakMap<OperationDefinitionNode, Map<string, string>>();

/**
 * Whether the field being resolved lies in the subtree of a root field named in `roots`. The path
 * holds response keys, which a client can alias, so the root key is mapped back to the field name
 * through the operation's own selections.
 */
function isUnderRoot(info: GraphQLResolveInfo, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0 || info.operation.operation !== 'query') return false;
  let path = info.path;
  while (path.prev !== undefined) path = path.prev;
  let names = rootFieldNames.get(info.operation);
  if (names === undefined) {
    names = new Map();
    collectRootFields(info.operation.selectionSet, info.fragments, names, new Set());
    rootFieldNames.set(info.operation, names);
  }
  const name = names.get(String(path.key));
  return name !== undefined && roots.has(name);
}

function collectRootFields(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  names: Map<string, string>,
  seen: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      names.set(selection.alias?.value ?? selection.name.value, selection.name.value);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectRootFields(selection.selectionSet, fragments, names, seen);
    } else {
      const fragment = fragments[selection.name.value];
      if (fragment !== undefined && !seen.has(fragment.name.value)) {
        seen.add(fragment.name.value);
        collectRootFields(fragment.selectionSet, fragments, names, seen);
      }
    }
  }
}
