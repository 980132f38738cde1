/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query FlightStats {\n  flightStats {\n    inFlight {\n      fingerprint\n      waiters\n      ageMs\n    }\n    started\n    coalesced\n    hits\n    misses\n    loads\n    errors\n    timeouts\n    hitRatio\n    store {\n      kind\n      healthy\n      breaker\n      errors\n    }\n    queries {\n      statement\n      count\n    }\n    operations {\n      executed\n      coalesced\n      hits\n      stored\n      notModified\n    }\n  }\n}\n\nquery FleetStats {\n  flightStats {\n    store {\n      kind\n      healthy\n      breaker\n    }\n    fleet {\n      enabled\n      leasesWon\n      waits\n      takeovers\n      fillsRefused\n      wakeupsByMessage\n      wakeupsByPoll\n      fallbacks\n    }\n  }\n}\n\nquery FreshnessStats {\n  flightStats {\n    hits\n    staleHits\n    refreshes\n    earlyRefreshes\n    refreshFailures\n    staleIfErrorServes\n  }\n}": typeof types.FlightStatsDocument,
    "mutation PlaceOrder($productId: ID!, $quantity: Int!) {\n  placeOrder(productId: $productId, quantity: $quantity) {\n    id\n    quantity\n    totalCents\n    product {\n      id\n    }\n  }\n}\n\nmutation UpdateProductPrice($id: ID!, $priceCents: Int!) {\n  updateProductPrice(id: $id, priceCents: $priceCents) {\n    id\n    priceCents\n  }\n}": typeof types.PlaceOrderDocument,
    "query Products($ids: [ID!]!) {\n  products(ids: $ids) {\n    id\n    name\n    priceCents\n  }\n}\n\nquery Product($id: ID!) {\n  product(id: $id) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}\n\nquery TopProducts($limit: Int) {\n  topProducts(limit: $limit) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}": typeof types.ProductsDocument,
    "query SalesSummary {\n  salesSummary {\n    orderCount\n    revenueCents\n    averageOrderCents\n  }\n}": typeof types.SalesSummaryDocument,
    "query Viewer($limit: Int) {\n  viewer {\n    id\n    name\n    recentOrders(limit: $limit) {\n      id\n      quantity\n      totalCents\n      createdAt\n      product {\n        id\n        name\n      }\n    }\n  }\n}": typeof types.ViewerDocument,
};
const documents: Documents = {
    "query FlightStats {\n  flightStats {\n    inFlight {\n      fingerprint\n      waiters\n      ageMs\n    }\n    started\n    coalesced\n    hits\n    misses\n    loads\n    errors\n    timeouts\n    hitRatio\n    store {\n      kind\n      healthy\n      breaker\n      errors\n    }\n    queries {\n      statement\n      count\n    }\n    operations {\n      executed\n      coalesced\n      hits\n      stored\n      notModified\n    }\n  }\n}\n\nquery FleetStats {\n  flightStats {\n    store {\n      kind\n      healthy\n      breaker\n    }\n    fleet {\n      enabled\n      leasesWon\n      waits\n      takeovers\n      fillsRefused\n      wakeupsByMessage\n      wakeupsByPoll\n      fallbacks\n    }\n  }\n}\n\nquery FreshnessStats {\n  flightStats {\n    hits\n    staleHits\n    refreshes\n    earlyRefreshes\n    refreshFailures\n    staleIfErrorServes\n  }\n}": types.FlightStatsDocument,
    "mutation PlaceOrder($productId: ID!, $quantity: Int!) {\n  placeOrder(productId: $productId, quantity: $quantity) {\n    id\n    quantity\n    totalCents\n    product {\n      id\n    }\n  }\n}\n\nmutation UpdateProductPrice($id: ID!, $priceCents: Int!) {\n  updateProductPrice(id: $id, priceCents: $priceCents) {\n    id\n    priceCents\n  }\n}": types.PlaceOrderDocument,
    "query Products($ids: [ID!]!) {\n  products(ids: $ids) {\n    id\n    name\n    priceCents\n  }\n}\n\nquery Product($id: ID!) {\n  product(id: $id) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}\n\nquery TopProducts($limit: Int) {\n  topProducts(limit: $limit) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}": types.ProductsDocument,
    "query SalesSummary {\n  salesSummary {\n    orderCount\n    revenueCents\n    averageOrderCents\n  }\n}": types.SalesSummaryDocument,
    "query Viewer($limit: Int) {\n  viewer {\n    id\n    name\n    recentOrders(limit: $limit) {\n      id\n      quantity\n      totalCents\n      createdAt\n      product {\n        id\n        name\n      }\n    }\n  }\n}": types.ViewerDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FlightStats {\n  flightStats {\n    inFlight {\n      fingerprint\n      waiters\n      ageMs\n    }\n    started\n    coalesced\n    hits\n    misses\n    loads\n    errors\n    timeouts\n    hitRatio\n    store {\n      kind\n      healthy\n      breaker\n      errors\n    }\n    queries {\n      statement\n      count\n    }\n    operations {\n      executed\n      coalesced\n      hits\n      stored\n      notModified\n    }\n  }\n}\n\nquery FleetStats {\n  flightStats {\n    store {\n      kind\n      healthy\n      breaker\n    }\n    fleet {\n      enabled\n      leasesWon\n      waits\n      takeovers\n      fillsRefused\n      wakeupsByMessage\n      wakeupsByPoll\n      fallbacks\n    }\n  }\n}\n\nquery FreshnessStats {\n  flightStats {\n    hits\n    staleHits\n    refreshes\n    earlyRefreshes\n    refreshFailures\n    staleIfErrorServes\n  }\n}"): (typeof documents)["query FlightStats {\n  flightStats {\n    inFlight {\n      fingerprint\n      waiters\n      ageMs\n    }\n    started\n    coalesced\n    hits\n    misses\n    loads\n    errors\n    timeouts\n    hitRatio\n    store {\n      kind\n      healthy\n      breaker\n      errors\n    }\n    queries {\n      statement\n      count\n    }\n    operations {\n      executed\n      coalesced\n      hits\n      stored\n      notModified\n    }\n  }\n}\n\nquery FleetStats {\n  flightStats {\n    store {\n      kind\n      healthy\n      breaker\n    }\n    fleet {\n      enabled\n      leasesWon\n      waits\n      takeovers\n      fillsRefused\n      wakeupsByMessage\n      wakeupsByPoll\n      fallbacks\n    }\n  }\n}\n\nquery FreshnessStats {\n  flightStats {\n    hits\n    staleHits\n    refreshes\n    earlyRefreshes\n    refreshFailures\n    staleIfErrorServes\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation PlaceOrder($productId: ID!, $quantity: Int!) {\n  placeOrder(productId: $productId, quantity: $quantity) {\n    id\n    quantity\n    totalCents\n    product {\n      id\n    }\n  }\n}\n\nmutation UpdateProductPrice($id: ID!, $priceCents: Int!) {\n  updateProductPrice(id: $id, priceCents: $priceCents) {\n    id\n    priceCents\n  }\n}"): (typeof documents)["mutation PlaceOrder($productId: ID!, $quantity: Int!) {\n  placeOrder(productId: $productId, quantity: $quantity) {\n    id\n    quantity\n    totalCents\n    product {\n      id\n    }\n  }\n}\n\nmutation UpdateProductPrice($id: ID!, $priceCents: Int!) {\n  updateProductPrice(id: $id, priceCents: $priceCents) {\n    id\n    priceCents\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Products($ids: [ID!]!) {\n  products(ids: $ids) {\n    id\n    name\n    priceCents\n  }\n}\n\nquery Product($id: ID!) {\n  product(id: $id) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}\n\nquery TopProducts($limit: Int) {\n  topProducts(limit: $limit) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}"): (typeof documents)["query Products($ids: [ID!]!) {\n  products(ids: $ids) {\n    id\n    name\n    priceCents\n  }\n}\n\nquery Product($id: ID!) {\n  product(id: $id) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}\n\nquery TopProducts($limit: Int) {\n  topProducts(limit: $limit) {\n    id\n    name\n    priceCents\n    stats {\n      unitsSold\n      revenueCents\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SalesSummary {\n  salesSummary {\n    orderCount\n    revenueCents\n    averageOrderCents\n  }\n}"): (typeof documents)["query SalesSummary {\n  salesSummary {\n    orderCount\n    revenueCents\n    averageOrderCents\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Viewer($limit: Int) {\n  viewer {\n    id\n    name\n    recentOrders(limit: $limit) {\n      id\n      quantity\n      totalCents\n      createdAt\n      product {\n        id\n        name\n      }\n    }\n  }\n}"): (typeof documents)["query Viewer($limit: Int) {\n  viewer {\n    id\n    name\n    recentOrders(limit: $limit) {\n      id\n      quantity\n      totalCents\n      createdAt\n      product {\n        id\n        name\n      }\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;