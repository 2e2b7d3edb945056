/**
 * The HTTP front end on uWebSockets.js: it registers the route table
 * (src/http/routes.ts), copies requests, writes responses and records each
 * request's duration. It holds no business logic: every route calls the
 * service through `HttpApi`.
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
import type { LookupOutcome } from '../guard.js';
import type { RequestHistogram } from '../metrics/request-histogram.js';
import type { HttpApi } from './http-api.js';
import { decodeIdParam } from './product-id-param.js';
import { readBody, parseJson } from './request-body.js';
import { ROUTES, UNMATCHED_LABEL, allowedMethods, type Auth, type Method, type Needs, type Route, type RouteHandler, type RouteResult } from './routes.js';
import { errorJson, statusLine, writeError, writeJson } from './respond.js';

export type { HttpApi, Phase, StatusBodies } from './http-api.js';
export { MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES } from './routes.js';

const JSON_TYPE = 'application/json';

type UwsHandler = (res: HttpResponse, req: HttpRequest) => void;

/** How each method of the route table is registered with uWS (a new method is a type error until listed here). */
const REGISTER: Readonly<Record<Method, (app: TemplatedApp, pattern: string, handler: UwsHandler) => void>> = {
  GET: (app, pattern, handler) => app.get(pattern, handler),
  POST: (app, pattern, handler) => app.post(pattern, handler),
  PUT: (app, pattern, handler) => app.put(pattern, handler),
  DELETE: (app, pattern, handler) => app.del(pattern, handler),
};

/** Writes an answer after an await: returns the status to record. */
type Writer = (res: HttpResponse) => number;
/** Settles a tracked request: writes corked unless the client is gone, then records the duration. */
type Done = (write: Writer, started: number) => void;

export class HttpServer {
  readonly #api: HttpApi;
  readonly #app: TemplatedApp;
  readonly #histogram: RequestHistogram;
  /** The histogram index of the lookup route, kept in a field for the hot path. */
  #lookupRoute = -1;
  #listenSocket: us_listen_socket | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(api: HttpApi) {
    this.#api = api;
    this.#histogram = api.metrics.httpDuration;
    this.#app = uWS.App();
    this.#register();
  }

  #register(): void {
    const app = this.#app;
    for (const route of ROUTES) {
      // Registering the labels here keeps metrics/ free of any knowledge of routes.
      const index = this.#histogram.route(route.label);
      if (route.handle === 'lookup') this.#lookupRoute = index;
      const serve: UwsHandler = route.handle === 'lookup' ? (res, req) => this.#getProduct(res, req) : this.#bind(route, route.handle, index);
      REGISTER[route.method](app, route.pattern, serve);
    }
    // Known paths with another method: 405 with Allow. uWS prefers method routes over `any`.
    const unmatched = this.#histogram.route(UNMATCHED_LABEL);
    for (const [pattern, methods] of allowedMethods(ROUTES)) {
      app.any(pattern, (res, req) => {
        const method = req.getMethod().toUpperCase();
        this.#fail(res, unmatched, performance.now(), new MethodNotAllowedError(method, req.getUrl(), methods));
      });
    }
    app.any('/*', (res, req) => {
      this.#fail(res, unmatched, performance.now(), new RouteNotFoundError(req.getMethod().toUpperCase(), req.getUrl()));
    });
  }

  /**
   * The hot path. A filter rejection is answered synchronously, with no await,
   * no allocation beyond the body string, and one histogram increment; so is a
   * local-cache hit, from its stored body (no allocation at all).
   */
  #getProduct(res: HttpResponse, req: HttpRequest): void {
    const started = performance.now();
    const route = this.#lookupRoute;
    const notReady = this.#refusal('ready');
    if (notReady !== undefined) {
      this.#fail(res, route, started, notReady);
      return;
    }
    let id: string;
    try {
      id = decodeIdParam(req.getParameter(0));
    } catch (err) {
      this.#fail(res, route, started, err);
      return;
    }
    const guard = this.#api.guard;
    if (!guard.inline) {
      this.#getProductViaPool(res, id, started);
      return;
    }
    if (guard.rejects(id)) {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', JSON_TYPE).end(notFoundBody(id, 'bloom_filter'));
      this.#histogram.observeSince(route, 404, started);
      return;
    }
    const hot = guard.localHit(id);
    if (hot !== undefined) {
      this.#histogram.observeSince(route, writeLocalHit(res, hot), started);
      return;
    }
    const done = this.#track(res, route);
    guard.resolve(id).then(
      (outcome) => done((r) => writeOutcome(r, id, outcome), started),
      (err: unknown) => done((r) => this.#writeFailure(r, err), started),
    );
  }

  /** LOOKUP_PATH=pool: the filter check itself is a (micro-batched) pool task. */
  #getProductViaPool(res: HttpResponse, id: string, started: number): void {
    const guard = this.#api.guard;
    const done = this.#track(res, this.#lookupRoute);
    guard
      .rejectsInPool(id)
      .then((rejected): LookupOutcome | Buffer | Promise<LookupOutcome> => {
        if (rejected) return { found: false, source: 'bloom_filter' };
        return guard.localHit(id) ?? guard.resolve(id);
      })
      .then(
        (outcome) => done((r) => (Buffer.isBuffer(outcome) ? writeLocalHit(r, outcome) : writeOutcome(r, id, outcome)), started),
        (err: unknown) => done((r) => this.#writeFailure(r, err), started),
      );
  }

  /** The uWS handler of one table row: copies what the row needs from `req`, synchronously, then serves it. */
  #bind(route: Route, handle: RouteHandler, index: number): UwsHandler {
    const hasParam = route.pattern.includes('/:');
    const hasBody = route.bodyLimit !== undefined;
    return (res, req) => {
      const authorization = route.auth === 'none' ? '' : req.getHeader('authorization');
      const param = hasParam ? (req.getParameter(0) ?? '') : '';
      const contentLength = hasBody ? req.getHeader('content-length') : '';
      this.#serve(res, route, handle, index, authorization, param, contentLength);
    };
  }

  /** Every route but the lookup, in the handler's tick: the row's auth, phase, then body or handler. */
  #serve(res: HttpResponse, route: Route, handle: RouteHandler, index: number, authorization: string, param: string, contentLength: string): void {
    const started = performance.now();
    let answer: RouteResult | Promise<RouteResult>;
    try {
      this.#checkAuth(route.auth, authorization);
      const refused = this.#refusal(route.needs);
      if (refused !== undefined) throw refused;
      if (route.bodyLimit !== undefined) {
        // readBody registers onData now, synchronously; #track registers onAborted first.
        const done = this.#track(res, index);
        // Bodies are parsed as JSON whatever the Content-Type says (curl -d sends a form type);
        // what is not JSON gets a 400 from parseJson.
        readBody(res, contentLength, route.bodyLimit)
          .then((raw) => handle(this.#api, { param, body: parseJson(raw) }))
          .then(
            (out) => done((r) => writeResult(r, out), started),
            (err: unknown) => done((r) => this.#writeFailure(r, err), started),
          );
        return;
      }
      answer = handle(this.#api, { param, body: undefined });
    } catch (err) {
      this.#fail(res, index, started, err);
      return;
    }
    if (answer instanceof Promise) {
      const done = this.#track(res, index);
      answer.then(
        (out) => done((r) => writeResult(r, out), started),
        (err: unknown) => done((r) => this.#writeFailure(r, err), started),
      );
      return;
    }
    this.#histogram.observeSince(index, writeResult(res, answer), started);
  }

  /** Throws the 401/403 of the row's `auth` (before the body is read, so refused writes cost nothing). */
  #checkAuth(auth: Auth, authorization: string): void {
    if (auth === 'admin') this.#api.adminAuth.check(authorization);
    else if (auth === 'write') this.#api.writeAuth.check(authorization);
  }

  /** Why a route that needs `needs` cannot answer now (503), or undefined. */
  #refusal(needs: Needs): StartingError | ShuttingDownError | undefined {
    if (needs === 'nothing') return undefined;
    const phase = this.#api.phase();
    if (phase === 'ready') return undefined;
    if (phase === 'starting') return new StartingError();
    return needs === 'ready' ? new ShuttingDownError() : undefined;
  }

  /**
   * Registers onAborted (before any await) and counts the request as in flight.
   * The returned `done` writes the answer corked, unless the client is gone,
   * and records the duration under `route`.
   */
  #track(res: HttpResponse, route: number): Done {
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
    return (write, started) => {
      if (aborted || finished) return;
      let status = 500;
      res.cork(() => {
        status = write(res);
      });
      finish();
      this.#histogram.observeSince(route, status, started);
    };
  }

  #writeFailure(res: HttpResponse, err: unknown): number {
    if (!(err instanceof BloomgateError)) this.#api.logger.error('request failed', { err });
    // A 413 is answered before the body was read: close so the rest is not parsed as a request.
    const { status } = errorJson(err);
    return writeError(res, err, status === 413);
  }

  #fail(res: HttpResponse, route: number, started: number, err: unknown): void {
    this.#histogram.observeSince(route, this.#writeFailure(res, err), started);
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
        resolve(uWS.us_socket_local_port(socket)); // takes a listen socket too ("socket (or listenSocket)")
      });
    });
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

/** Writes a handler's answer; 204 has no body. Returns the status. */
function writeResult(res: HttpResponse, out: RouteResult): number {
  if (out.status === 204) {
    res.writeStatus(statusLine(204)).end();
    return 204;
  }
  if (out.contentType === undefined && out.noStore !== true) {
    writeJson(res, out.status, out.body);
    return out.status;
  }
  res.writeStatus(statusLine(out.status)).writeHeader('Content-Type', out.contentType ?? JSON_TYPE);
  if (out.noStore === true) res.writeHeader('Cache-Control', 'no-store');
  res.end(out.body);
  return out.status;
}

/** A local-cache hit: its stored body is the `200` as written (source "cache"). */
function writeLocalHit(res: HttpResponse, body: Buffer): number {
  res.writeStatus('200 OK').writeHeader('Content-Type', JSON_TYPE).end(body);
  return 200;
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
