/**
 * The HTTP front end on uWebSockets.js: routing, request copying, response
 * writing and per-request metrics. It holds no business logic: every route
 * calls one method of the service (`HttpApi`).
 *
 * uWS rules followed throughout: everything needed from `req` is copied
 * synchronously in the handler (req is invalid after it returns); `onAborted`
 * is registered before any await; writes after an await go inside `res.cork`
 * and are skipped if the client went away.
 *
 * @example
 *   const server = new HttpServer(api);
 *   const port = await server.listen('0.0.0.0', 8000);
 *   await server.close(10_000); // stop accepting, drain in-flight requests
 */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { BloomgateError, MethodNotAllowedError, RouteNotFoundError, ShuttingDownError, StartingError } from '../errors.js';
import type { LookupGuard, LookupOutcome } from '../guard.js';
import type { Logger } from '../logger.js';
import { HttpRoute, type Metrics } from '../metrics/registry.js';
import type { ProductWriter } from '../product-writes.js';
import type { AdminAuth } from './admin-auth.js';
import { parseIdBatch, parseProduct, parseProductBatch } from './bodies.js';
import { decodeIdParam } from './product-id-param.js';
import { readBody, parseJson } from './request-body.js';
import { errorJson, statusLine, writeError, writeJson } from './respond.js';

export type Phase = 'starting' | 'ready' | 'draining';

/** What the HTTP layer needs from the service. */
export interface HttpApi {
  readonly phase: () => Phase;
  readonly guard: LookupGuard;
  readonly writer: ProductWriter;
  /** One byte per id, 1 = may exist (the worker pool). */
  readonly checkIds: (ids: readonly string[]) => Promise<Uint8Array>;
  readonly metrics: Metrics;
  readonly health: () => { readonly status: number; readonly body: object };
  readonly bloomStats: () => object;
  readonly logger: Logger;
  readonly adminAuth: AdminAuth;
  /** Starts an online rebuild; throws RebuildInProgressError when one runs. */
  readonly startRebuild: () => object;
  readonly adminStatus: () => object;
  /** The self-contained HTML of GET /. */
  readonly statusPage: string;
}

/** A single product's JSON is tiny; 64 KiB leaves room and stops floods of garbage. */
export const MAX_BODY_BYTES = 64 * 1024;
/** 10,000 products or ids of up to 256 bytes each, as JSON. */
export const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

/** The routes and their methods, for 405 answers that list what is allowed. */
const ROUTES: readonly { pattern: string; methods: readonly string[] }[] = [
  { pattern: '/products/batch', methods: ['POST'] },
  { pattern: '/products/:id', methods: ['GET', 'DELETE'] },
  { pattern: '/products', methods: ['POST'] },
  { pattern: '/bloom/check', methods: ['POST'] },
  { pattern: '/bloom/stats', methods: ['GET'] },
  { pattern: '/health', methods: ['GET'] },
  { pattern: '/metrics', methods: ['GET'] },
  { pattern: '/stats', methods: ['GET'] },
  { pattern: '/admin/rebuild', methods: ['POST'] },
  { pattern: '/admin/status', methods: ['GET'] },
  { pattern: '/', methods: ['GET'] },
];

const JSON_TYPE = 'application/json';

export class HttpServer {
  readonly #api: HttpApi;
  readonly #app: TemplatedApp;
  #listenSocket: us_listen_socket | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(api: HttpApi) {
    this.#api = api;
    this.#app = uWS.App();
    this.#register();
  }

  #register(): void {
    const app = this.#app;
    app.get('/products/:id', (res, req) => this.#getProduct(res, req));
    app.post('/products', (res, req) => this.#withBody(res, req, HttpRoute.createProduct, MAX_BODY_BYTES, (body) => this.#createProduct(body)));
    app.post('/products/batch', (res, req) =>
      this.#withBody(res, req, HttpRoute.createBatch, MAX_BATCH_BODY_BYTES, (body) => this.#createBatch(body)),
    );
    app.post('/bloom/check', (res, req) =>
      this.#withBody(res, req, HttpRoute.bloomCheck, MAX_BATCH_BODY_BYTES, (body) => this.#bloomCheck(body)),
    );
    app.get('/bloom/stats', (res) => this.#sync(res, HttpRoute.bloomStats, true, () => ({ status: 200, body: JSON.stringify(this.#api.bloomStats()) })));
    app.get('/stats', (res) => this.#sync(res, HttpRoute.stats, false, () => ({ status: 200, body: JSON.stringify(this.#api.metrics.lookups) })));
    app.get('/health', (res) =>
      this.#sync(res, HttpRoute.health, false, () => {
        const { status, body } = this.#api.health();
        return { status, body: JSON.stringify(body) };
      }),
    );
    app.get('/metrics', (res) => this.#metrics(res));
    app.del('/products/:id', (res, req) => {
      // Copied now: req is invalid after this handler returns.
      const authorization = req.getHeader('authorization');
      const raw = req.getParameter(0) ?? '';
      this.#admin(res, authorization, HttpRoute.deleteProduct, () => {
        this.#api.writer.delete(decodeIdParam(raw));
        return { status: 204, body: '' };
      });
    });
    app.post('/admin/rebuild', (res, req) => {
      const authorization = req.getHeader('authorization');
      this.#admin(res, authorization, HttpRoute.adminRebuild, () => ({ status: 202, body: JSON.stringify(this.#api.startRebuild()) }));
    });
    app.get('/admin/status', (res, req) => {
      const authorization = req.getHeader('authorization');
      this.#admin(res, authorization, HttpRoute.adminStatus, () => ({ status: 200, body: JSON.stringify(this.#api.adminStatus()) }));
    });
    app.get('/', (res) => {
      const started = performance.now();
      res.writeStatus('200 OK').writeHeader('Content-Type', 'text/html; charset=utf-8').writeHeader('Cache-Control', 'no-store').end(this.#api.statusPage);
      this.#api.metrics.httpDuration.observe(HttpRoute.statusPage, 200, (performance.now() - started) / 1000);
    });
    // Known paths with another method: 405 with Allow. uWS prefers method routes over `any`.
    for (const { pattern, methods } of ROUTES) {
      app.any(pattern, (res, req) => {
        const method = req.getMethod().toUpperCase();
        this.#fail(res, HttpRoute.unmatched, performance.now(), new MethodNotAllowedError(method, req.getUrl(), methods));
      });
    }
    app.any('/*', (res, req) => {
      this.#fail(res, HttpRoute.unmatched, performance.now(), new RouteNotFoundError(req.getMethod().toUpperCase(), req.getUrl()));
    });
  }

  /**
   * The hot path. A filter rejection is answered synchronously, with no await,
   * no allocation beyond the body string, and one histogram increment.
   */
  #getProduct(res: HttpResponse, req: HttpRequest): void {
    const started = performance.now();
    const notReady = this.#notReady();
    if (notReady !== undefined) {
      this.#fail(res, HttpRoute.getProduct, started, notReady);
      return;
    }
    let id: string;
    try {
      id = decodeIdParam(req.getParameter(0));
    } catch (err) {
      this.#fail(res, HttpRoute.getProduct, started, err);
      return;
    }
    const guard = this.#api.guard;
    if (!guard.inline) {
      this.#getProductViaPool(res, id, started);
      return;
    }
    if (guard.rejects(id)) {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', JSON_TYPE).end(notFoundBody(id, 'bloom_filter'));
      this.#api.metrics.httpDuration.observe(HttpRoute.getProduct, 404, (performance.now() - started) / 1000);
      return;
    }
    const done = this.#track(res);
    guard.resolve(id).then(
      (outcome) => done((r) => writeOutcome(r, id, outcome), HttpRoute.getProduct, started),
      (err: unknown) => done((r) => this.#writeFailure(r, err), HttpRoute.getProduct, started),
    );
  }

  /** LOOKUP_PATH=pool: the filter check itself is a (micro-batched) pool task. */
  #getProductViaPool(res: HttpResponse, id: string, started: number): void {
    const guard = this.#api.guard;
    const done = this.#track(res);
    guard
      .rejectsInPool(id)
      .then((rejected) => (rejected ? ({ found: false, source: 'bloom_filter' } as const) : guard.resolve(id)))
      .then(
        (outcome) => done((r) => writeOutcome(r, id, outcome), HttpRoute.getProduct, started),
        (err: unknown) => done((r) => this.#writeFailure(r, err), HttpRoute.getProduct, started),
      );
  }

  #createProduct(body: unknown): { status: number; body: string } {
    const product = this.#api.writer.create(parseProduct(body));
    return { status: 201, body: JSON.stringify(product) };
  }

  async #createBatch(body: unknown): Promise<{ status: number; body: string }> {
    const result = await this.#api.writer.createBatch(parseProductBatch(body));
    return { status: 200, body: JSON.stringify(result) };
  }

  async #bloomCheck(body: unknown): Promise<{ status: number; body: string }> {
    const results = await this.#api.checkIds(parseIdBatch(body));
    // Built by hand: 10,000 booleans as a string beat JSON.stringify of an array.
    let json = '{"results":[';
    for (let i = 0; i < results.length; i++) json += (i === 0 ? '' : ',') + (results[i] === 1 ? 'true' : 'false');
    return { status: 200, body: json + ']}' };
  }

  /** Why product and admin routes cannot answer now (503), or undefined when ready. */
  #notReady(): StartingError | ShuttingDownError | undefined {
    const phase = this.#api.phase();
    if (phase === 'ready') return undefined;
    return phase === 'starting' ? new StartingError() : new ShuttingDownError();
  }

  /** Routes with a JSON body: read it, parse, run the handler, answer. */
  #withBody(
    res: HttpResponse,
    req: HttpRequest,
    route: number,
    limit: number,
    handle: (body: unknown) => { status: number; body: string } | Promise<{ status: number; body: string }>,
  ): void {
    const started = performance.now();
    const notReady = this.#notReady();
    if (notReady !== undefined) {
      this.#fail(res, route, started, notReady);
      return;
    }
    // Bodies are parsed as JSON whatever the Content-Type says (curl -d sends a form type);
    // what is not JSON gets a 400 from parseJson.
    const contentLength = req.getHeader('content-length');
    const done = this.#track(res);
    readBody(res, contentLength, limit)
      .then((raw) => handle(parseJson(raw)))
      .then(
        (out) =>
          done((r) => {
            writeJson(r, out.status, out.body);
            return out.status;
          }, route, started),
        (err: unknown) => done((r) => this.#writeFailure(r, err), route, started),
      );
  }

  /** Routes answered synchronously (stats, health). */
  #sync(res: HttpResponse, route: number, needsReady: boolean, handle: () => { status: number; body: string }): void {
    const started = performance.now();
    try {
      if (needsReady && this.#api.phase() === 'starting') throw new StartingError();
      const { status, body } = handle();
      writeJson(res, status, body);
      this.#api.metrics.httpDuration.observe(route, status, (performance.now() - started) / 1000);
    } catch (err) {
      this.#fail(res, route, started, err);
    }
  }

  /** Admin routes: token first (401/403), then the ready phase, then the handler. 204 has no body. */
  #admin(res: HttpResponse, authorization: string, route: number, handle: () => { status: number; body: string }): void {
    const started = performance.now();
    try {
      this.#api.adminAuth.check(authorization);
      const notReady = this.#notReady();
      if (notReady !== undefined) throw notReady;
      const { status, body } = handle();
      if (status === 204) res.writeStatus(statusLine(204)).end();
      else writeJson(res, status, body);
      this.#api.metrics.httpDuration.observe(route, status, (performance.now() - started) / 1000);
    } catch (err) {
      this.#fail(res, route, started, err);
    }
  }

  #metrics(res: HttpResponse): void {
    const started = performance.now();
    const done = this.#track(res);
    const registry = this.#api.metrics.registry;
    registry.metrics().then(
      (text) =>
        done((r) => {
          r.writeStatus('200 OK').writeHeader('Content-Type', registry.contentType).end(text);
          return 200;
        }, HttpRoute.metrics, started),
      (err: unknown) => done((r) => this.#writeFailure(r, err), HttpRoute.metrics, started),
    );
  }

  /**
   * Registers onAborted (before any await) and counts the request as in flight.
   * The returned `done` writes the answer corked, unless the client is gone,
   * and records the duration.
   */
  #track(res: HttpResponse): (write: (res: HttpResponse) => number, route: number, started: number) => void {
    let aborted = false;
    let finished = false;
    this.#inFlight++;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    };
    res.onAborted(() => {
      aborted = true;
      finish();
    });
    return (write, route, started) => {
      if (aborted || finished) return;
      let status = 500;
      res.cork(() => {
        status = write(res);
      });
      finish();
      this.#api.metrics.httpDuration.observe(route, status, (performance.now() - started) / 1000);
    };
  }

  #writeFailure(res: HttpResponse, err: unknown): number {
    if (!(err instanceof BloomgateError)) this.#api.logger.error('request failed', { err });
    // A 413 is answered before the body was read: close so the rest is not parsed as a request.
    const { status } = errorJson(err);
    return writeError(res, err, status === 413);
  }

  #fail(res: HttpResponse, route: number, started: number, err: unknown): void {
    const status = this.#writeFailure(res, err);
    this.#api.metrics.httpDuration.observe(route, status, (performance.now() - started) / 1000);
  }

  /** Resolves with the bound port (use port 0 for a free one). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        this.#listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Stops accepting connections, then waits (at most timeoutMs) for in-flight requests. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#listenSocket !== undefined) {
      uWS.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
    if (this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function writeOutcome(res: HttpResponse, id: string, outcome: LookupOutcome): number {
  if (outcome.found) {
    const { id: pid, name, price } = outcome.product;
    writeJson(res, 200, JSON.stringify({ id: pid, name, price, source: outcome.source }));
    return 200;
  }
  writeJson(res, 404, notFoundBody(id, outcome.source));
  return 404;
}

/** `{"error":"not_found",...}`; ids are JSON-escaped (they may hold quotes or non-ASCII). */
function notFoundBody(id: string, source: string): string {
  return `{"error":"not_found","message":"no such product","id":${JSON.stringify(id)},"source":"${source}"}`;
}

