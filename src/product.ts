/**
 * The product, and the one rule for what a valid product (and product id) is.
 * The HTTP layer checks every body with it before anything reaches a store, so
 * the stores trust their input and never answer in HTTP terms; the file import
 * checks ids with the same `idProblem`, so an id accepted by one is never
 * refused by the other.
 *
 * Ids: 1 to {@link MAX_ID_BYTES} bytes of well-formed UTF-8 with no control characters.
 * Names: 1 to {@link MAX_NAME_LENGTH} UTF-16 units, no U+0000.
 *
 * @example
 *   idProblem('SKU-00000042');   // null: valid
 *   idProblem('a\tb');           // 'id contains control character U+0009 at index 1'
 *   productProblems({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // []
 *   productProblems({ id: '', price: -1 }, 'products[3].');
 *   // ['products[3].id is empty', 'products[3].name must be a non-empty string', 'products[3].price must be a number >= 0']
 */

/** The longest id, in UTF-8 bytes (not characters: 'é' counts 2). */
export const MAX_ID_BYTES = 256;

// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(unit: number): string {
  return `U+${unit.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Null when `id` is a valid product id, else a message saying what is wrong with it. */
export function idProblem(id: string): string | null {
  if (id.length === 0) return 'id is empty';
  // A lone surrogate cannot be encoded as UTF-8 (it would silently become U+FFFD),
  // so check it before measuring the byte length.
  const lone = LONE_SURROGATE.exec(id);
  if (lone !== null) return `id contains a lone surrogate ${codePoint(id.charCodeAt(lone.index))} at index ${lone.index}`;
  const control = CONTROL.exec(id);
  if (control !== null) return `id contains control character ${codePoint(id.charCodeAt(control.index))} at index ${control.index}`;
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (id.length * 3 > MAX_ID_BYTES) {
    const bytes = Buffer.byteLength(id, 'utf8');
    if (bytes > MAX_ID_BYTES) return `id is ${bytes} bytes in UTF-8; the limit is ${MAX_ID_BYTES}`;
  }
  return null;
}

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly price: number;
}

/** The longest product name, in UTF-16 units. */
export const MAX_NAME_LENGTH = 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every problem with `value` as a product, each naming its field and prefixed
 * with `where` (e.g. `products[3].` for a batch position); empty when valid.
 */
export function productProblems(value: unknown, where = ''): string[] {
  if (!isRecord(value)) return [`${where || 'body'} must be an object with id, name and price`];
  const problems: string[] = [];
  const { id, name, price } = value;
  if (typeof id !== 'string') problems.push(`${where}id must be a string`);
  else {
    const problem = idProblem(id);
    if (problem !== null) problems.push(`${where}${problem}`);
  }
  if (typeof name !== 'string' || name.length === 0) problems.push(`${where}name must be a non-empty string`);
  else if (name.length > MAX_NAME_LENGTH) problems.push(`${where}name must be at most ${MAX_NAME_LENGTH} characters`);
  // PostgreSQL refuses NUL in text (SQLite stores it): refused here on both, so
  // the same body never gets a 400 on one backend and a 500 on the other.
  else if (name.includes('\u0000')) problems.push(`${where}name contains control character U+0000 at index ${name.indexOf('\u0000')}`);
  // Finite: SQLite would store NaN as NULL, and JSON cannot carry Infinity back out.
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) problems.push(`${where}price must be a number >= 0`);
  return problems;
}

/** The product's own fields only (a JSON body may carry more). Call after productProblems found none. */
export function toProduct(value: { readonly id: string; readonly name: string; readonly price: number }): Product {
  return { id: value.id, name: value.name, price: value.price };
}
