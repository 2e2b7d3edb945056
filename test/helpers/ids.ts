/**
 * Ids for tests, from one place: sequential product ids, scattered ids that
 * look like real SKUs, and random suffixes for names no other test (or run)
 * uses (Redis namespaces, PostgreSQL databases).
 *
 * @example
 *   sku(42);                     // 'SKU-00000042'
 *   scatteredId('IMP', 7);       // 'IMP-<8 hex digits>-7'
 *   uniqueSuffix();              // '3f9a1c0b2e7d'
 */
import { randomBytes } from 'node:crypto';

/** `SKU-00000042`: the sequential id format of the sample product file. */
export function sku(i: number): string {
  return `SKU-${String(i).padStart(8, '0')}`;
}

/**
 * `<prefix>-<hash of i>-<i>`: unique per `i` and spread over the key space, as
 * real SKUs are, so sequential ids do not hide ordering effects.
 */
export function scatteredId(prefix: string, i: number): string {
  return `${prefix}-${(Math.imul(i, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}-${i}`;
}

/** 12 random hex digits: for names that must not collide across tests and runs. */
export function uniqueSuffix(): string {
  return randomBytes(6).toString('hex');
}
