/**
 * The first-start import of PRODUCTS_FILE (one id per line) into an empty
 * product table: the file is read, validated and de-duplicated here, then
 * `store.importIds` writes the ids in ONE transaction: either the whole file is
 * in the database or none of it is, so a crash mid-import simply imports
 * again next start (and two processes starting at once import once).
 *
 * @example
 *   const result = await importProductsFile(store, config.productsFile, (ids) => { for (const id of ids) filter.add(id); });
 *   if (result) log.info(`imported ${result.imported} of ${result.lines} lines in ${result.ms} ms`);
 */
import { readFile } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { idProblem } from '../product.js';
import type { ProductStore } from './product-store.js';

export interface ImportResult {
  /** Lines in the file, blank ones included (a final newline does not start a line). */
  readonly lines: number;
  readonly imported: number;
  /** Valid ids seen again after their first line. */
  readonly duplicates: number;
  /** Lines that are not valid ids (see src/product.ts), or not valid UTF-8. */
  readonly invalid: number;
  /** Wall time of the whole import: read, insert, and the onChunk calls. */
  readonly ms: number;
}

const NEWLINE = 0x0a;
const REPLACEMENT_CHAR = '\ufffd';

/**
 * Imports ids in ONE transaction (name `Product <id>`, price 0). Blank lines and
 * surrounding whitespace are skipped; duplicates are imported once; ids that are
 * not 1-256 UTF-8 bytes without control chars are counted invalid and skipped.
 * Only imports when the store is empty; returns null if the store already has
 * rows or the file does not exist.
 *
 * After the transaction commits, calls `onChunk` with each chunk of the newly
 * inserted ids, in file order, awaiting each, so the caller can add them to
 * the filter. If `onChunk` rejects, the import rejects with that error but the
 * rows stay committed: the caller must then rebuild the filter from the database.
 */
export async function importProductsFile(
  store: Pick<ProductStore, 'count' | 'importIds'>,
  path: string,
  onChunk: (ids: readonly string[]) => void | Promise<void>,
  chunkSize = 10_000,
): Promise<ImportResult | null> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  }
  const started = performance.now();
  if ((await store.count()) > 0) return null;

  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }

  let lines = 0;
  let duplicates = 0;
  let invalid = 0;
  // A Set keeps insertion order: its ids are the file's distinct ids, in file order.
  const seen = new Set<string>();
  for (let start = 0; start < data.length; ) {
    let end = data.indexOf(NEWLINE, start);
    if (end === -1) end = data.length;
    const lineStart = start;
    start = end + 1;
    lines++;
    // trim() also strips '\r' and a leading byte-order mark.
    const id = data.toString('utf8', lineStart, end).trim();
    if (id.length === 0) continue;
    // The decoder turns malformed bytes into U+FFFD; only then is the byte check worth it.
    if (idProblem(id) !== null || (id.includes(REPLACEMENT_CHAR) && !isUtf8(data.subarray(lineStart, end)))) {
      invalid++;
      continue;
    }
    if (seen.has(id)) duplicates++;
    else seen.add(id);
  }
  const inserted = [...seen];
  seen.clear();
  // Checked again inside the store's transaction: rows may have arrived while the file was read.
  if ((await store.importIds(inserted)) === null) return null;

  for (let i = 0; i < inserted.length; i += chunkSize) {
    await onChunk(inserted.slice(i, i + chunkSize));
  }
  return { lines, imported: inserted.length, duplicates, invalid, ms: Math.round(performance.now() - started) };
}
