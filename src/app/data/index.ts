export { dropShopSchema, type StatementOptions, type WriteProgress } from './drivers.js';
export {
  InvalidInputError,
  NotFoundError,
  ShopDataClosedError,
  ShopDataError,
  type ShopDataErrorCode,
} from './errors.js';
export { DEFAULT_SEED } from './schema.js';
export {
  type CustomerRow,
  type OpenShopDataOptions,
  type OrderRow,
  openShopData,
  type PlaceOrderInput,
  type ProductRow,
  type ProductStatsRow,
  type SalesSummaryRow,
  type ShopData,
  type TopProductRow,
} from './shop-data.js';
