import type {
  FieldNullability,
  InputFieldMap,
  InputShapeFromFields,
  SchemaTypes,
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
      /** Cache this field's resolver result through the FlightCache (see FieldCachePolicy). */
      cache?: FieldCachePolicy<Types, ParentShape, InputShapeFromFields<Args>, ResolveReturnShape>;
    }
  }
}
