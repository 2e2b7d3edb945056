/**
 * Every route of the HTTP API, declared once. The server derives from this
 * table the uWS registration, the `Allow` header of 405 answers (the methods
 * listed for a pattern) and the request histogram's route labels.
 *
 * A handler gets what the server copied from the request (uWS invalidates
 * `req` when the handler returns) and answers with a RouteResult, or a promise
 * of one; the server writes it (corked after an await) and records the
 * request's duration under the row's label.
 *
 * @example
 *   { method: 'GET', pattern: '/health', label: 'GET /health', needs: 'nothing', auth: 'none',
 *     handle: (api) => { const { status, body } = api.health(); return { status, body: JSON.stringify(body) }; } }
 */
import type { HttpApi } from './http-api.js';
import { parseIdBatch, parseProduct, parseProductBatch, parseProductUpdate } from './bodies.js';
import { decodeIdParam } from './product-id-param.js';
import { buildOpenApi } from './openapi.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * What a route needs before its handler runs (else 503):
 * `ready`: the filter is loaded and the service is not draining;
 * `loaded`: the filter is loaded (draining still answers);
 * `nothing`: always answers (health, metrics, status page).
 */
export type Needs = 'ready' | 'loaded' | 'nothing';

/**
 * Who may call a route, checked before `needs`:
 * `none`: anyone; `write`: `Authorization: Bearer <WRITE_TOKEN>` when
 * WRITE_TOKEN is set (src/http/write-auth.ts); `admin`: `Authorization: Bearer
 * <ADMIN_TOKEN>`, and disabled without it (src/http/admin-auth.ts).
 */
export type Auth = 'none' | 'write' | 'admin';

/** A handler's answer. `body` is sent as is; a 204 sends none. */
export interface RouteResult {
  readonly status: number;
  readonly body: string;
  /** Default: application/json. */
  readonly contentType?: string;
  /** Sends `Cache-Control: no-store`. */
  readonly noStore?: boolean;
}

/** What the server copied from the request, synchronously, for the handler. */
export interface RouteInput {
  /** The first path parameter, still percent-encoded ('' when the pattern has none). */
  readonly param: string;
  /** The parsed JSON body (undefined for routes without one). */
  readonly body: unknown;
}

export type RouteHandler = (api: HttpApi, input: RouteInput) => RouteResult | Promise<RouteResult>;

export interface Route {
  readonly method: Method;
  readonly pattern: string;
  /** The `route` label of bloomgate_http_request_duration_seconds. */
  readonly label: string;
  readonly needs: Needs;
  readonly auth: Auth;
  /** Reads a JSON body of at most this many bytes. */
  readonly bodyLimit?: number;
  /**
   * The answer; 'lookup' is the product lookup, which the server answers
   * itself so that a filter rejection stays synchronous and allocation-free.
   */
  readonly handle: RouteHandler | 'lookup';
}

/** A single product's JSON is tiny; 64 KiB leaves room and stops floods of garbage. */
export const MAX_BODY_BYTES = 64 * 1024;
/** 10,000 products or ids of up to 256 bytes each, as JSON. */
export const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

/** The label of requests that matched no route (404) or no method (405). */
export const UNMATCHED_LABEL = 'unmatched';

const json = (status: number, value: unknown): RouteResult => ({ status, body: JSON.stringify(value) });

let openApiJson: string | undefined;

// Order matters for the 405 fallbacks only: a static pattern before a parametric one that overlaps it.
export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    pattern: '/products/batch',
    label: 'POST /products/batch',
    needs: 'ready',
    auth: 'write',
    bodyLimit: MAX_BATCH_BODY_BYTES,
    handle: async (api, { body }) => json(200, await api.writer.createBatch(parseProductBatch(body))),
  },
  { method: 'GET', pattern: '/products/:id', label: 'GET /products/:id', needs: 'ready', auth: 'none', handle: 'lookup' },
  {
    method: 'PUT',
    pattern: '/products/:id',
    label: 'PUT /products/:id',
    needs: 'ready',
    auth: 'write',
    bodyLimit: MAX_BODY_BYTES,
    handle: async (api, { param, body }) => json(200, await api.writer.update(parseProductUpdate(decodeIdParam(param), body))),
  },
  {
    method: 'DELETE',
    pattern: '/products/:id',
    label: 'DELETE /products/:id',
    needs: 'ready',
    auth: 'admin',
    handle: async (api, { param }) => {
      await api.writer.delete(decodeIdParam(param));
      return { status: 204, body: '' };
    },
  },
  {
    method: 'POST',
    pattern: '/products',
    label: 'POST /products',
    needs: 'ready',
    auth: 'write',
    bodyLimit: MAX_BODY_BYTES,
    handle: async (api, { body }) => json(201, await api.writer.create(parseProduct(body))),
  },
  {
    method: 'POST',
    pattern: '/bloom/check',
    label: 'POST /bloom/check',
    needs: 'ready',
    auth: 'none',
    bodyLimit: MAX_BATCH_BODY_BYTES,
    handle: async (api, { body }) => ({ status: 200, body: checkResultsJson(await api.checkIds(parseIdBatch(body))) }),
  },
  { method: 'GET', pattern: '/bloom/stats', label: 'GET /bloom/stats', needs: 'loaded', auth: 'none', handle: (api) => json(200, api.bloomStats()) },
  {
    method: 'GET',
    pattern: '/health',
    label: 'GET /health',
    needs: 'nothing',
    auth: 'none',
    handle: (api) => {
      const { status, body } = api.health();
      return json(status, body);
    },
  },
  {
    method: 'GET',
    pattern: '/metrics',
    label: 'GET /metrics',
    needs: 'nothing',
    auth: 'none',
    handle: async (api) => {
      const registry = api.metrics.registry;
      return { status: 200, body: await registry.metrics(), contentType: registry.contentType };
    },
  },
  { method: 'GET', pattern: '/stats', label: 'GET /stats', needs: 'nothing', auth: 'none', handle: (api) => json(200, api.metrics.lookups) },
  { method: 'POST', pattern: '/admin/rebuild', label: 'POST /admin/rebuild', needs: 'ready', auth: 'admin', handle: (api) => json(202, api.startRebuild()) },
  { method: 'GET', pattern: '/admin/status', label: 'GET /admin/status', needs: 'ready', auth: 'admin', handle: (api) => json(200, api.adminStatus()) },
  // Built from this table on first request (ROUTES is complete by then), then served as is.
  { method: 'GET', pattern: '/openapi.json', label: 'GET /openapi.json', needs: 'nothing', auth: 'none', handle: () => ({ status: 200, body: (openApiJson ??= JSON.stringify(buildOpenApi(ROUTES))) }) },
  {
    method: 'GET',
    pattern: '/',
    label: 'GET /',
    needs: 'nothing',
    auth: 'none',
    handle: (api) => ({ status: 200, body: api.statusPage, contentType: 'text/html; charset=utf-8', noStore: true }),
  },
];

/** The methods each pattern answers, in table order (the `Allow` header of a 405). */
export function allowedMethods(routes: readonly Route[]): Map<string, Method[]> {
  const byPattern = new Map<string, Method[]>();
  for (const { pattern, method } of routes) {
    const methods = byPattern.get(pattern);
    if (methods === undefined) byPattern.set(pattern, [method]);
    else methods.push(method);
  }
  return byPattern;
}

/** `{"results":[true,false,...]}`, built by hand: 10,000 booleans as a string beat JSON.stringify of an array. */
function checkResultsJson(results: Uint8Array): string {
  let out = '{"results":[';
  for (let i = 0; i < results.length; i++) out += (i === 0 ? '' : ',') + (results[i] === 1 ? 'true' : 'false');
  return out + ']}';
}
