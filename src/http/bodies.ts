/**
 * Validating JSON request bodies (a product's rule is src/product.ts). Every problem is reported (by field, and by
 * index in batches) in one 400, and nothing of a rejected request is written.
 */
import { InvalidBodyError, PayloadTooLargeError } from '../errors.js';
import { idProblem, productProblems, toProduct, type Product } from '../product.js';

/** Most ids in one POST /bloom/check and products in one POST /products/batch. */
export const MAX_BATCH_ITEMS = 10_000;
/** Reported problems are capped so a bad 10,000-item batch gets a readable answer. */
const MAX_DETAILS = 20;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(problems: string[]): never {
  const shown = problems.slice(0, MAX_DETAILS);
  const more = problems.length > MAX_DETAILS ? ` (and ${problems.length - MAX_DETAILS} more)` : '';
  throw new InvalidBodyError(shown[0]! + (problems.length > 1 ? ` (${problems.length} problems${more})` : ''), shown);
}

export function parseProduct(body: unknown): Product {
  const problems = productProblems(body, '');
  if (problems.length > 0) fail(problems);
  return toProduct(body as Product);
}

/**
 * The body of `PUT /products/{id}`: `{"name","price"}` for the id in the path,
 * checked by the same rule as a create. An `id` in the body is allowed only
 * when it is the path's (so a created product's JSON can be sent back as is).
 */
export function parseProductUpdate(id: string, body: unknown): Product {
  if (!isObject(body)) fail(['body must be an object with name and price']);
  if (body.id !== undefined && body.id !== id) fail([`id in the body (${JSON.stringify(body.id)}) differs from the id in the path`]);
  return parseProduct({ ...body, id });
}

function batchArray(body: unknown, field: string): unknown[] {
  if (!isObject(body) || !Array.isArray(body[field])) throw new InvalidBodyError(`body must be an object with an array "${field}"`);
  const items = body[field] as unknown[];
  if (items.length === 0) throw new InvalidBodyError(`"${field}" must hold at least one item`);
  if (items.length > MAX_BATCH_ITEMS) {
    throw new PayloadTooLargeError(`"${field}" holds ${items.length} items; the limit is ${MAX_BATCH_ITEMS}`);
  }
  return items;
}

export function parseProductBatch(body: unknown): Product[] {
  const items = batchArray(body, 'products');
  const problems: string[] = [];
  items.forEach((item, i) => problems.push(...productProblems(item, `products[${i}].`)));
  if (problems.length > 0) fail(problems);
  return items.map((item) => toProduct(item as Product));
}

export function parseIdBatch(body: unknown): string[] {
  const items = batchArray(body, 'ids');
  const problems: string[] = [];
  items.forEach((id, i) => {
    if (typeof id !== 'string') problems.push(`ids[${i}] must be a string`);
    else {
      const problem = idProblem(id);
      if (problem !== null) problems.push(`ids[${i}]: ${problem}`);
    }
  });
  if (problems.length > 0) fail(problems);
  return items as string[];
}
