/**
 * The product, and the one rule for what a valid product is. The HTTP layer
 * checks every body with it before anything reaches a store, so the stores
 * trust their input and never answer in HTTP terms.
 *
 * @example
 *   productProblems({ id: 'SKU-1', name: 'Lamp', price: 9.5 }); // []
 *   productProblems({ id: '', price: -1 }, 'products[3].');
 *   // ['products[3].id is empty', 'products[3].name must be a non-empty string', 'products[3].price must be a number >= 0']
 */
import { idProblem } from './store/product-id.js';

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
  // Finite: SQLite would store NaN as NULL, and JSON cannot carry Infinity back out.
  if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) problems.push(`${where}price must be a number >= 0`);
  return problems;
}

/** The product's own fields only (a JSON body may carry more). Call after productProblems found none. */
export function toProduct(value: { readonly id: string; readonly name: string; readonly price: number }): Product {
  return { id: value.id, name: value.name, price: value.price };
}
