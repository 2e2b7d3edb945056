/**
 * The data every load run starts from: a products file of `count` ids
 * `SKU-00000000`, `SKU-00000001`, ... in a fresh temp dir, beside which the
 * server gets its own empty DB_PATH. Absent ids use another prefix, so they
 * are never in the database (only a ~1% false positive reaches it).
 *
 * @example
 *   const data = await writeProductsFile(100_000);
 *   // PRODUCTS_FILE=data.productsFile DB_PATH=data.dbPath(...)
 *   existingId(42);  // 'SKU-00000042'
 *   absentId(42);    // 'NOPE-00000042'
 *   await data.remove();
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const EXISTING_PREFIX = 'SKU-';
export const ABSENT_PREFIX = 'NOPE-';

/** `SKU-%08d`: the i-th id of the products file. */
export function existingId(i: number): string {
  return EXISTING_PREFIX + String(i).padStart(8, '0');
}

/** `NOPE-%08d`: an id that is never in the products file. */
export function absentId(i: number): string {
  return ABSENT_PREFIX + String(i).padStart(8, '0');
}

export interface ProductsData {
  readonly dir: string;
  readonly productsFile: string;
  readonly count: number;
  /** A fresh database path in the same temp dir, one per server. */
  dbPath(name: string): string;
  remove(): Promise<void>;
}

export async function writeProductsFile(count: number): Promise<ProductsData> {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a positive integer (got ${count})`);
  const dir = await mkdtemp(join(tmpdir(), 'bloomgate-load-'));
  const productsFile = join(dir, 'products.txt');
  const lines: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) lines[i] = existingId(i);
  await writeFile(productsFile, lines.join('\n') + '\n');
  return {
    dir,
    productsFile,
    count,
    dbPath: (name) => join(dir, `${name}.db`),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
