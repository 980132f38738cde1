export { dropShopSchema, type StatementOptions, type WriteProgress } from './drivers.js';
export {
  InvalidInputError,
  NotFoundError,
  ShopDataClosedError,
  ShopDataError,
  type ShopDataErrorCode,
} from './errors.js';
export { averageCents, CENTS_PATTERN, type Cents, toCents } from './money.js';
export { DEFAULT_SEED } from './schema.js';
export {
  type CustomerRow,
  type OpenShopDataOptions,
  type OrderRow,
  ORDER_QUANTITY_MAX,
  openShopData,
  PRICE_CENTS_MAX,
  type PlaceOrderInput,
  type ProductRow,
  type ProductStatsRow,
  type SalesSummaryRow,
  type ShopData,
  type TopProductRow,
} from './shop-data.js';
