/**
 * The default concurrency cap of the HTTP functions (`reservedConcurrency` of
 * SluiceClusterProps): a reservation of 20 each unless the cluster says otherwise or `'none'`.
 */
import { Token } from 'aws-cdk-lib';

/** Concurrency reserved for (and capping) each HTTP function by default. */
export const DEFAULT_RESERVED_CONCURRENCY = 20;

/** A `reservedConcurrency` that is neither a whole number ≥ 1 nor `'none'`. */
export class InvalidReservedConcurrencyError extends Error {
  override name = 'InvalidReservedConcurrencyError';
}

/**
 * The reservation each HTTP function gets when its own is not set: `undefined` for `'none'`
 * (the account's unreserved pool, uncapped).
 *
 * @example
 * reservedConcurrencyCap(undefined); // 20
 * reservedConcurrencyCap('none'); // undefined
 * reservedConcurrencyCap(0); // throws InvalidReservedConcurrencyError (0 would throttle every request)
 */
export function reservedConcurrencyCap(value: number | 'none' | undefined): number | undefined {
  if (value === undefined) return DEFAULT_RESERVED_CONCURRENCY;
  if (value === 'none') return undefined;
  if (Token.isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidReservedConcurrencyError(
      `reservedConcurrency is ${String(value)}: use a whole number ≥ 1 (0 would throttle every request), or 'none' for no reservation`,
    );
  }
  return value;
}
