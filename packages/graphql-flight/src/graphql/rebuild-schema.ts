import {
  type GraphQLCompositeType,
  GraphQLDirective,
  type GraphQLFieldConfig,
  type GraphQLFieldConfigArgumentMap,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  type GraphQLNamedType,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  type GraphQLType,
  GraphQLUnionType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  isSpecifiedDirective,
  isUnionType,
} from 'graphql';

type Extensions = Readonly<Record<string, unknown>> | null | undefined;

/** What `rebuildSchema` changes; everything else is copied as it is. */
export interface SchemaMapper {
  /** The config of one field of an object or interface type, from its original config. */
  field(
    owner: GraphQLObjectType | GraphQLInterfaceType,
    name: string,
    config: GraphQLFieldConfig<unknown, unknown>,
  ): GraphQLFieldConfig<unknown, unknown>;
  /** The extensions of one object, interface or union type, from its original ones. */
  typeExtensions(type: GraphQLCompositeType, extensions: Extensions): Extensions;
}

/**
 * A new schema with new object, interface, union and input types (every reference between them
 * rewired to the new ones), so changing a field or a type never touches `schema`. Scalars, enums,
 * introspection types and the specified directives reference no other type and are shared.
 */
export function rebuildSchema(schema: GraphQLSchema, mapper: SchemaMapper): GraphQLSchema {
  const rebuilt = new Map<string, GraphQLNamedType>();
  // Called from the thunks only, so every new type exists by then.
  const named = <T extends GraphQLNamedType>(type: T): T => (rebuilt.get(type.name) ?? type) as T;
  const ref = <T extends GraphQLType>(type: T): T => {
    if (isListType(type)) return new GraphQLList(ref(type.ofType)) as T;
    if (isNonNullType(type)) return new GraphQLNonNull(ref(type.ofType)) as T;
    return named(type as GraphQLNamedType) as T;
  };
  const args = (map: GraphQLFieldConfigArgumentMap): GraphQLFieldConfigArgumentMap =>
    mapValues(map, (arg) => ({ ...arg, type: ref(arg.type) }));
  const fields = (owner: GraphQLObjectType | GraphQLInterfaceType) => {
    const config = owner.toConfig().fields;
    return () =>
      mapValues(config, (field, name) => {
        const mapped = mapper.field(owner, name, field);
        return { ...mapped, type: ref(mapped.type), args: args(mapped.args ?? {}) };
      });
  };

  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type)) continue;
    if (isObjectType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLObjectType({
          ...config,
          interfaces: () => config.interfaces.map(named),
          fields: fields(type),
          extensions: mapper.typeExtensions(type, config.extensions),
        }),
      );
    } else if (isInterfaceType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLInterfaceType({
          ...config,
          interfaces: () => config.interfaces.map(named),
          fields: fields(type),
          extensions: mapper.typeExtensions(type, config.extensions),
        }),
      );
    } else if (isUnionType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLUnionType({
          ...config,
          types: () => config.types.map(named),
          extensions: mapper.typeExtensions(type, config.extensions),
        }),
      );
    } else if (isInputObjectType(type)) {
      const config = type.toConfig();
      rebuilt.set(
        type.name,
        new GraphQLInputObjectType({
          ...config,
          fields: () => mapValues(config.fields, (field) => ({ ...field, type: ref(field.type) })),
        }),
      );
    } else {
      rebuilt.set(type.name, type);
    }
  }

  const config = schema.toConfig();
  return new GraphQLSchema({
    ...config,
    query: config.query && named(config.query),
    mutation: config.mutation && named(config.mutation),
    subscription: config.subscription && named(config.subscription),
    types: [...rebuilt.values()],
    directives: config.directives.map((directive) => {
      if (isSpecifiedDirective(directive)) return directive;
      const own = directive.toConfig();
      return new GraphQLDirective({ ...own, args: args(own.args) });
    }),
  });
}

function mapValues<T, U>(
  record: Readonly<Record<string, T>>,
  map: (value: T, key: string) => U,
): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value, key)]));
}
