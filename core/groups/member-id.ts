/** Member ids are issued by the server: UUID-shaped, drawn from the injected randomness. */
import type { Random } from '../clock.js';

/**
 * A random (version 4) UUID from `random`.
 *
 * @example
 * newMemberId(seededRandom(1)); // e.g. '6b1e7f0a-3c2d-4e9b-8a51-0f2c3d4e5f60'
 */
export function newMemberId(random: Random): string {
  const bytes = Array.from({ length: 16 }, () => Math.floor(random() * 256) & 0xff);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
