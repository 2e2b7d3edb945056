/**
 * The OpenAPI 3.1 description of the HTTP API, built from the route table
 * (src/http/routes.ts) and the per-route entries below. Served at
 * `GET /openapi.json` and kept in the repository as src/http/openapi.json.
 *
 * Derived from each route row: the path (`:id` -> `{id}`) and method, the
 * security requirement (`auth`), and the error answers the server gives before
 * a handler runs: 401/403 from `auth`, 503 from `needs`, 400 `invalid_id` from
 * a path parameter, 400 `invalid_body` and 413 from a body, 500 on every route.
 * Written here per route: summary, request body, success answers and the
 * errors only the handler knows (409, 404, database_unavailable).
 *
 * Each error answer's schema is the shared error shape narrowed to the codes
 * that route can answer with that status, so a test that validates real
 * answers against this document also checks every code is listed.
 * buildOpenApi throws when a route has no entry here (or an entry no route),
 * so a new route without documentation fails the OpenAPI test.
 *
 * @example
 *   const doc = buildOpenApi(ROUTES);
 *   doc.paths['/products/{id}'].get.responses['404'];
 */
import { MAX_ID_BYTES, MAX_NAME_LENGTH } from '../product.js';
import { REBUILD_REASONS } from '../upkeep/online-rebuild.js';
import { MAX_BATCH_ITEMS } from './bodies.js';
import type { Auth, Method, Needs, Route } from './routes.js';

export type JsonObject = { readonly [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | JsonObject;

/** The parts of an OpenAPI document this module writes (and tests read). */
export interface OpenApiDocument extends JsonObject {
  readonly openapi: string;
  readonly paths: { readonly [path: string]: { readonly [method: string]: Operation } };
  readonly components: JsonObject & { readonly schemas: { readonly [name: string]: JsonObject }; readonly responses: { readonly [name: string]: JsonObject } };
}

export interface Operation extends JsonObject {
  readonly operationId: string;
  readonly responses: { readonly [status: string]: JsonObject };
}

/** The status of every error code the HTTP API answers with (src/errors.ts; a test compares them). */
export const ERROR_STATUS = {
  invalid_id: 400,
  invalid_body: 400,
  unauthorized: 401,
  write_unauthorized: 401,
  admin_disabled: 403,
  write_forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  already_exists: 409,
  rebuild_in_progress: 409,
  payload_too_large: 413,
  internal_error: 500,
  starting: 503,
  shutting_down: 503,
  database_unavailable: 503,
  cluster_unavailable: 503,
} as const satisfies Readonly<Record<string, number>>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A success answer: a JSON schema (or a schema of another media type), or no body (204). */
interface SuccessDoc {
  readonly description: string;
  readonly schema?: JsonObject;
  /** Default application/json. */
  readonly mediaType?: string;
  readonly noBody?: true;
}

interface RouteDoc {
  readonly summary: string;
  readonly requestBody?: JsonObject;
  readonly success: { readonly [status: number]: SuccessDoc };
  /** Errors the handler itself answers (the ones the row implies are derived). */
  readonly errors?: readonly ErrorCode[];
  /** Replaces the shared error shape of a status (the lookup's 404 says where it was decided). */
  readonly errorSchemas?: { readonly [status: number]: JsonObject };
}

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: JsonObject): JsonObject => ({ oneOf: [schema, { type: 'null' }] });
const int = { type: 'integer', minimum: 0 } as const;
const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
/** An object with `required` properties, and `optional` ones that may be absent. */
const object = (required: { readonly [key: string]: JsonObject }, optional: { readonly [key: string]: JsonObject } = {}): JsonObject => ({
  type: 'object',
  required: Object.keys(required),
  properties: { ...required, ...optional },
});
const json = (description: string, schema: JsonObject): SuccessDoc => ({ description, schema });

/** Route label -> documentation. Every row of ROUTES needs one. */
const ROUTE_DOCS: { readonly [label: string]: RouteDoc } = {
  'POST /products/batch': {
    summary: 'Create up to 10,000 products in one transaction; existing ids are reported, not replaced',
    requestBody: ref('ProductBatch'),
    success: { 200: json('Created, with the ids that already existed', ref('BatchCreated')) },
    errors: ['database_unavailable', 'cluster_unavailable'],
  },
  'GET /products/:id': {
    summary: 'Look a product up: filter, then cache, then database',
    success: { 200: json('The product and where it was found', ref('ProductFound')) },
    errors: ['not_found', 'database_unavailable'],
    errorSchemas: { 404: ref('ProductNotFound') },
  },
  'PUT /products/:id': {
    summary: 'Replace a product\'s name and price (every instance drops its cached copy)',
    requestBody: ref('ProductUpdate'),
    success: { 200: json('Updated', ref('Product')) },
    errors: ['not_found', 'database_unavailable'],
  },
  'DELETE /products/:id': {
    summary: 'Delete a product (its id counts as stale in the filter until a rebuild)',
    success: { 204: { description: 'Deleted', noBody: true } },
    errors: ['not_found', 'database_unavailable', 'cluster_unavailable'],
  },
  'POST /products': {
    summary: 'Create a product',
    requestBody: ref('Product'),
    success: { 201: json('Created', ref('Product')) },
    errors: ['already_exists', 'database_unavailable', 'cluster_unavailable'],
  },
  'POST /bloom/check': {
    summary: 'Ask the filter alone about up to 10,000 ids (true: may exist)',
    requestBody: ref('IdBatch'),
    success: { 200: json('One answer per id, in order', ref('CheckResults')) },
  },
  'GET /bloom/stats': { summary: 'Filter sizing, fill, false-positive rates, rebuild and snapshot state', success: { 200: json('Filter statistics', ref('BloomStats')) } },
  'GET /health': {
    summary: 'Liveness and readiness',
    success: {
      200: json('Loaded and serving', ref('HealthServing')),
      503: json('Starting or draining', ref('HealthNotServing')),
    },
  },
  'GET /metrics': { summary: 'Prometheus metrics', success: { 200: { description: 'Prometheus text exposition format', mediaType: 'text/plain', schema: str } } },
  'GET /stats': { summary: 'Lookup counters', success: { 200: json('Counters since start', ref('LookupStats')) } },
  'POST /admin/rebuild': {
    summary: 'Start an online rebuild of the filter',
    success: { 202: json('Started', ref('RebuildStarted')) },
    errors: ['rebuild_in_progress'],
  },
  'GET /admin/status': { summary: 'Rebuild, snapshot, seed fingerprint and audit state', success: { 200: json('Admin status', ref('AdminStatus')) } },
  'GET /openapi.json': { summary: 'This document', success: { 200: json('The OpenAPI 3.1 description of the API', { type: 'object', required: ['openapi', 'paths'] }) } },
  'GET /': { summary: 'The status page', success: { 200: { description: 'A self-contained HTML page', mediaType: 'text/html', schema: str } } },
};

const productName = { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH } as const;
const productId = { type: 'string', minLength: 1, description: `At most ${MAX_ID_BYTES} bytes of UTF-8 without control characters` } as const;

const rebuildRecord = object({
  reason: { enum: REBUILD_REASONS },
  detail: str,
  started_at: int,
  finished_at: nullable(int),
  ms: nullable(num),
  ok: nullable(bool),
  error: nullable(str),
  from_capacity: int,
  to_capacity: int,
  items: nullable(int),
});

const SCHEMAS: { readonly [name: string]: JsonObject } = {
  Error: {
    type: 'object',
    description: 'Every error answer. `details` lists each problem of an invalid body.',
    required: ['error', 'message'],
    properties: { error: str, message: str, details: { type: 'array', items: str } },
  },
  ProductNotFound: {
    allOf: [ref('Error')],
    required: ['id', 'source'],
    properties: { error: { const: 'not_found' }, id: str, source: { enum: ['bloom_filter', 'negative_cache', 'database'] } },
  },
  Product: object({ id: productId, name: productName, price: { type: 'number', minimum: 0 } }),
  ProductUpdate: object({ name: productName, price: { type: 'number', minimum: 0 } }, { id: productId }),
  ProductFound: object({ id: str, name: str, price: num, source: { enum: ['cache', 'database'] } }),
  ProductBatch: object({ products: { type: 'array', minItems: 1, maxItems: MAX_BATCH_ITEMS, items: ref('Product') } }),
  BatchCreated: object({ created: int, conflicts: { type: 'array', items: str } }),
  IdBatch: object({ ids: { type: 'array', minItems: 1, maxItems: MAX_BATCH_ITEMS, items: productId } }),
  CheckResults: object({ results: { type: 'array', items: bool } }),
  HealthServing: object(
    { status: { enum: ['ok', 'degraded'] }, redis: { enum: ['up', 'down'] }, filter: { const: 'loaded' }, items: int, uptime_s: num },
    { database: { enum: ['up', 'down'] } },
  ),
  HealthNotServing: object({ status: { enum: ['starting', 'draining'] } }, { reason: { const: 'database_unavailable' } }),
  LookupStats: object(
    Object.fromEntries(
      ['lookups', 'bloom_rejected', 'negative_cache_hit', 'cache_hit', 'local_cache_hit', 'db_hit', 'db_miss', 'db_queries', 'db_roundtrips_avoided', 'false_positives', 'coalesced_lookups', 'cache_errors']
        .map((k): [string, JsonObject] => [k, int])
        .concat([['db_roundtrip_reduction', { type: 'number', minimum: 0, maximum: 1 }]]),
    ),
  ),
  RebuildRecord: rebuildRecord,
  Rebuild: object({
    running: bool,
    progress: { type: 'number', minimum: 0, maximum: 1 },
    scanned_rows: int,
    total_rows: int,
    current: nullable(ref('RebuildRecord')),
    last: nullable(ref('RebuildRecord')),
    completed: int,
    failed: int,
  }),
  Snapshot: object({
    last_saved_at: nullable({ type: 'string', format: 'date-time' }),
    watermark: nullable(num),
    dirty_shards: int,
    pending_full: bool,
    last_bytes: int,
    last_duration_ms: nullable(num),
    last_stall_ms: nullable(num),
    saves: int,
    failures: int,
    last_error: nullable(str),
  }),
  BloomStats: object({
    capacity: int,
    target_fpr: num,
    bits: int,
    nominal_bits: int,
    hashes: int,
    shards: int,
    shard_bits: int,
    hash_id: int,
    items: int,
    stale_items: int,
    fill_ratio: num,
    estimated_fpr: num,
    observed_fpr: object({ window: nullable(num), window_s: num, window_false_positives: int, window_rejections: int, total: nullable(num) }),
    false_negatives: int,
    audit_checks: int,
    memory_bytes: int,
    namespace: str,
    lookup_path: { enum: ['inline', 'pool'] },
    workers: int,
    rebuild: ref('Rebuild'),
    snapshot: ref('Snapshot'),
    load: nullable(object({ source: { enum: ['import', 'snapshot', 'rebuild'] }, ms: num, replayed: int, refused: nullable(str) })),
  }),
  AdminStatus: object({
    phase: { enum: ['starting', 'ready', 'draining'] },
    rebuild: ref('Rebuild'),
    last_trigger: nullable(ref('RebuildRecord')),
    snapshot: ref('Snapshot'),
    seed_fingerprint: { type: 'string', pattern: '^[0-9a-f]{8}$' },
    filter: object({ items: int, stale_items: int, capacity: int }),
    audit: object({ sample_every: int, checks: int, false_negatives: int, queued: int, dropped: int }),
  }),
  RebuildStarted: object({ started: { const: true }, rebuild: ref('Rebuild') }),
};

const SECURITY_SCHEMES: JsonObject = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'ADMIN_TOKEN. Admin routes answer 403 admin_disabled while it is not set, 401 unauthorized without it or with another token.',
  },
  writeToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'WRITE_TOKEN, needed by creates (and updates) only when it is set: 401 write_unauthorized without it, 403 write_forbidden with another token. Unset: writes are open.',
  },
};

const AUTH_ERRORS: Readonly<Record<Auth, readonly ErrorCode[]>> = {
  none: [],
  write: ['write_unauthorized', 'write_forbidden'],
  admin: ['unauthorized', 'admin_disabled'],
};

const NEEDS_ERRORS: Readonly<Record<Needs, readonly ErrorCode[]>> = {
  nothing: [],
  loaded: ['starting'],
  ready: ['starting', 'shutting_down'],
};

const SECURITY: Readonly<Record<Auth, readonly JsonObject[] | undefined>> = {
  none: undefined,
  write: [{ writeToken: [] }],
  admin: [{ adminToken: [] }],
};

/** The error shape narrowed to `codes`. */
function errorResponse(codes: readonly ErrorCode[], schema?: JsonObject): JsonObject {
  const error: JsonObject = codes.length === 1 ? { const: codes[0]! } : { enum: [...codes] };
  const narrowed = schema ?? { allOf: [ref('Error')], properties: { error } };
  return { description: codes.join(', '), content: { 'application/json': { schema: narrowed } } };
}

function successResponse(doc: SuccessDoc): JsonObject {
  if (doc.noBody === true) return { description: doc.description };
  return { description: doc.description, content: { [doc.mediaType ?? 'application/json']: { schema: doc.schema ?? {} } } };
}

/** `/products/:id` -> `/products/{id}`. */
export function openApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z_]+)/g, '{$1}');
}

function operation(route: Route, doc: RouteDoc): Operation {
  const hasParam = route.pattern.includes('/:');
  const codes: ErrorCode[] = [
    ...(hasParam ? (['invalid_id'] as const) : []),
    ...(route.bodyLimit !== undefined ? (['invalid_body', 'payload_too_large'] as const) : []),
    ...AUTH_ERRORS[route.auth],
    ...NEEDS_ERRORS[route.needs],
    ...(doc.errors ?? []),
    'internal_error',
  ];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_STATUS[code];
    const list = byStatus.get(status) ?? [];
    if (!list.includes(code)) list.push(code);
    byStatus.set(status, list);
  }
  const responses: Record<string, JsonObject> = {};
  for (const [status, success] of Object.entries(doc.success)) responses[status] = successResponse(success);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[status] !== undefined) throw new Error(`${route.label}: status ${status} is both a success and an error`);
    responses[status] = errorResponse(list, doc.errorSchemas?.[status]);
  }
  const security = SECURITY[route.auth];
  return {
    operationId: operationId(route.method, route.pattern),
    summary: doc.summary,
    ...(security !== undefined ? { security } : {}),
    ...(hasParam ? { parameters: [{ name: 'id', in: 'path', required: true, description: 'The product id, percent-encoded', schema: productId }] } : {}),
    ...(doc.requestBody !== undefined ? { requestBody: { required: true, content: { 'application/json': { schema: doc.requestBody } } } } : {}),
    responses,
  };
}

/** `POST /products/batch` -> `postProductsBatch`; `GET /` -> `getRoot`. */
function operationId(method: Method, pattern: string): string {
  const words = pattern
    .split(/[/.]/)
    .filter((w) => w !== '')
    .map((w) => (w.startsWith(':') ? `by-${w.slice(1)}` : w))
    .flatMap((w) => w.split('-'));
  const camel = (words.length === 0 ? ['root'] : words).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return method.toLowerCase() + camel;
}

/** The document for `routes`; throws when a route has no entry in ROUTE_DOCS or an entry no route. */
export function buildOpenApi(routes: readonly Route[]): OpenApiDocument {
  const labels = new Set(routes.map((r) => r.label));
  const undocumented = [...labels].filter((label) => ROUTE_DOCS[label] === undefined);
  const orphans = Object.keys(ROUTE_DOCS).filter((label) => !labels.has(label));
  if (undocumented.length > 0 || orphans.length > 0) {
    throw new Error(`src/http/openapi.ts: routes without documentation: [${undocumented.join(', ')}]; documentation without a route: [${orphans.join(', ')}]`);
  }
  const paths: Record<string, Record<string, Operation>> = {};
  for (const route of routes) {
    const path = openApiPath(route.pattern);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, ROUTE_DOCS[route.label]!);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'bloomgate',
      version: '1',
      description:
        'A cache-penetration guard: a Bloom filter in front of Redis in front of the database. Every error answer is {"error": code, "message": text}, with `details` for invalid bodies. Any path no route matches answers components.responses.RouteNotFound; a known path with another method answers components.responses.MethodNotAllowed.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    paths,
    components: {
      schemas: SCHEMAS,
      responses: {
        RouteNotFound: errorResponse(['route_not_found']),
        MethodNotAllowed: {
          ...errorResponse(['method_not_allowed']),
          headers: { Allow: { description: 'The methods the path answers', required: true, schema: str } },
        },
      },
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
