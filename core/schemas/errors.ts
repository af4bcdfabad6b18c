/**
 * The errors of the schema registry, in Confluent Schema Registry's shape: an HTTP status
 * and an `error_code` (the status followed by a detail digit or two), e.g. 40401 "subject
 * not found". The HTTP layer answers `{ error_code, message }` with the status.
 */

/** Confluent's error codes, by the name this code base uses for them. */
export const REGISTRY_ERRORS = {
  BAD_REQUEST: { status: 400, errorCode: 400 },
  SUBJECT_NOT_FOUND: { status: 404, errorCode: 40401 },
  VERSION_NOT_FOUND: { status: 404, errorCode: 40402 },
  SCHEMA_NOT_FOUND: { status: 404, errorCode: 40403 },
  SUBJECT_SOFT_DELETED: { status: 404, errorCode: 40404 },
  SUBJECT_NOT_SOFT_DELETED: { status: 404, errorCode: 40405 },
  VERSION_SOFT_DELETED: { status: 404, errorCode: 40406 },
  VERSION_NOT_SOFT_DELETED: { status: 404, errorCode: 40407 },
  SUBJECT_CONFIG_NOT_FOUND: { status: 404, errorCode: 40408 },
  NOT_FOUND: { status: 404, errorCode: 404 },
  INCOMPATIBLE_SCHEMA: { status: 409, errorCode: 409 },
  UNPROCESSABLE: { status: 422, errorCode: 422 },
  INVALID_SCHEMA: { status: 422, errorCode: 42201 },
  INVALID_VERSION: { status: 422, errorCode: 42202 },
  INVALID_COMPATIBILITY_LEVEL: { status: 422, errorCode: 42203 },
  REFERENCE_EXISTS: { status: 422, errorCode: 42206 },
  STORE_ERROR: { status: 500, errorCode: 50001 },
} as const;

export type RegistryErrorName = keyof typeof REGISTRY_ERRORS;

/**
 * A request the registry refuses; `errorCode` is Confluent's (40401, 42201, 409, …) and
 * `status` its HTTP status. Nothing was changed when it is thrown.
 */
export class SchemaRegistryError extends Error {
  override name = 'SchemaRegistryError';
  readonly status: number;
  readonly errorCode: number;
  constructor(
    readonly kind: RegistryErrorName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = REGISTRY_ERRORS[kind].status;
    this.errorCode = REGISTRY_ERRORS[kind].errorCode;
  }
}

export const subjectNotFound = (subject: string) =>
  new SchemaRegistryError('SUBJECT_NOT_FOUND', `Subject '${subject}' not found.`);
export const versionNotFound = (subject: string, version: number | string) =>
  new SchemaRegistryError('VERSION_NOT_FOUND', `Version ${version} not found for subject '${subject}'.`);
export const schemaNotFound = (what = 'Schema not found') =>
  new SchemaRegistryError('SCHEMA_NOT_FOUND', what);
export const invalidSchema = (message: string, cause?: unknown) =>
  new SchemaRegistryError('INVALID_SCHEMA', `Invalid schema: ${message}`, { cause });
