import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSchemaFile, SCHEMA_FILE } from '../../src/app/print-schema.js';

describe('schema/schema.graphql', () => {
  it('matches the schema printed from Pothos (run "npm run schema:print" after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printSchemaFile());
  });

  it('declares the fields the issue asks for, with their nullability', () => {
    const printed = printSchemaFile();
    for (const line of [
      'product(id: ID!): Product',
      'products(ids: [ID!]!): [Product]!',
      'topProducts(limit: Int = 10): [Product!]!',
      'salesSummary: SalesSummary!',
      'viewer: Customer',
      'flightStats: FlightStats!',
      'recentOrders(limit: Int = 5): [Order!]!',
      'placeOrder(productId: ID!, quantity: Int!): Order!',
      'updateProductPrice(id: ID!, priceCents: Int!): Product!',
    ]) {
      expect(printed).toContain(`  ${line}\n`);
    }
  });
});
