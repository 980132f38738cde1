/**
 * Errors of the shop's data layer, with stable `code`s. Callers (the GraphQL layer) branch on
 * `code` and may show the message to clients: messages name the field or entity and the value
 * received, never SQL or connection details. Bad options at open are `InvalidOptionError`
 * (E_INVALID_OPTION) from src/errors.ts, like every other layer's options.
 */

export type ShopDataErrorCode = 'E_INVALID_INPUT' | 'E_NOT_FOUND' | 'E_DATA_CLOSED';

export class ShopDataError extends Error {
  readonly code: ShopDataErrorCode;

  constructor(code: ShopDataErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument failed validation; nothing was sent to the database. */
export class InvalidInputError extends ShopDataError {
  /** The argument, as `ids[2]`, `limit`, `input.quantity`. */
  readonly field: string;

  constructor(field: string, expected: string, received: unknown) {
    super('E_INVALID_INPUT', `${field} must be ${expected}; received ${describe(received)}`);
    this.field = field;
  }
}

/** A write named a row that does not exist (`placeOrder` with an unknown customer or product). */
export class NotFoundError extends ShopDataError {
  readonly entity: 'customer' | 'product';
  readonly id: number;

  constructor(entity: 'customer' | 'product', id: number) {
    super('E_NOT_FOUND', `${entity} ${id} does not exist`);
    this.entity = entity;
    this.id = id;
  }
}

/** A call after `close()`. */
export class ShopDataClosedError extends ShopDataError {
  constructor() {
    super('E_DATA_CLOSED', 'the shop data source is closed');
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return Array.isArray(value) ? 'an array' : typeof value;
}
