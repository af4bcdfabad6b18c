/** Errors of the schema serdes. */
import { SluiceClientError } from '../errors.js';

/**
 * A value that does not match its schema, refused at `send` before anything is sent;
 * `field` names the first offending field (a dotted path, e.g. `address.city`).
 */
export class SluiceSchemaValidationError extends SluiceClientError {
  override name = 'SluiceSchemaValidationError';
  constructor(
    message: string,
    readonly field: string | undefined,
    readonly subject: string,
  ) {
    super(message, { retriable: false });
  }
}

/**
 * The schema registry refused a request or could not be reached: `errorCode` is
 * Confluent's (40401 subject not found, 409 incompatible, 42201 invalid schema, …).
 */
export class SluiceSchemaRegistryError extends SluiceClientError {
  override name = 'SluiceSchemaRegistryError';
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: number,
  ) {
    super(message, { retriable: status >= 500 || status === 429 });
  }
}

/** Bytes that are not in Confluent's wire format, or name a schema that does not read them. */
export class SluiceSchemaFormatError extends SluiceClientError {
  override name = 'SluiceSchemaFormatError';
}
