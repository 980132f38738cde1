import type {
  FieldNullability,
  InputFieldMap,
  InputShapeFromFields,
  SchemaTypes,
  ShapeFromTypeParam,
  TypeParam,
} from '@pothos/core';
import type { PothosCachePolicyPlugin } from './pothos-plugin.js';
import type { CachePolicyPluginOptions, FieldCachePolicy } from './pothos-types.js';

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      cachePolicy: PothosCachePolicyPlugin<Types>;
    }

    export interface SchemaBuilderOptions<Types extends SchemaTypes> {
      cachePolicy?: CachePolicyPluginOptions<Types>;
    }

    export interface FieldOptions<
      Types extends SchemaTypes = SchemaTypes,
      ParentShape = unknown,
      Type extends TypeParam<Types> = TypeParam<Types>,
      Nullable extends FieldNullability<Type> = FieldNullability<Type>,
      Args extends InputFieldMap = InputFieldMap,
      ResolveShape = unknown,
      ResolveReturnShape = unknown,
    > {
      /**
       * Cache this field's resolver result through the FlightCache (see FieldCachePolicy). Its
       * `tags` get the value typed by the field's type and nullability: Pothos does not always
       * infer ResolveReturnShape (`never` for a `t.int`, `{}` for a nullable object field).
       */
      cache?: FieldCachePolicy<
        Types,
        ParentShape,
        InputShapeFromFields<Args>,
        ShapeFromTypeParam<Types, Type, Nullable>
      >;
    }
  }
}
