/**
 * The ceiling for `npm run bench`: a bare uWebSockets.js handler that answers
 * every GET with a 404 JSON body of the same size as bloomgate's rejection
 * (`{"error":"not_found","message":"no such product","id":"<id>","source":"bloom_filter"}`,
 * byte for byte what src/http sends) and nothing else: no filter, no metrics,
 * no routing beyond one wildcard. bench.ts checks that the two bodies still
 * have the same length before it measures.
 *
 * An id of an existing product (`SKU-...`, see load/products-file.ts) gets
 * instead the 200 body bloomgate sends for a cache hit of the imported product
 * (`{"id":"<id>","name":"Product <id>","price":0,"source":"cache"}`, byte for
 * byte): the ceiling of the `hit` scenario, built per request like the 404.
 *
 * `GET /health` answers 200 so the same readiness wait works for every server.
 *
 *   PORT=8100 npx tsx load/bare-uws.ts
 */
import uWS from 'uWebSockets.js';

const PORT = Number(process.env.PORT ?? 8100);
const HOST = process.env.HOST ?? '127.0.0.1';

const kPrefix = '/products/';
const kExisting = 'SKU-';

function idOf(url: string): string {
  const raw = url.startsWith(kPrefix) ? url.slice(kPrefix.length) : url;
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const app = uWS.App();
app.get('/health', (res) => {
  res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
});
app.get('/*', (res, req) => {
  const id = idOf(req.getUrl());
  if (id.startsWith(kExisting)) {
    const quoted = JSON.stringify(id);
    res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').end(`{"id":${quoted},"name":"Product ${quoted.slice(1)},"price":0,"source":"cache"}`);
    return;
  }
  res
    .writeStatus('404 Not Found')
    .writeHeader('Content-Type', 'application/json')
    .end(`{"error":"not_found","message":"no such product","id":${JSON.stringify(id)},"source":"bloom_filter"}`);
});

let listenSocket: uWS.us_listen_socket | false = false;
app.listen(HOST, PORT, (socket) => {
  listenSocket = socket;
  if (socket === false) {
    console.error(`bare-uws: cannot listen on ${HOST}:${PORT}`);
    process.exit(1);
  }
  console.log(`bare-uws listening on ${HOST}:${PORT}`);
});

function close(): void {
  if (listenSocket !== false) uWS.us_listen_socket_close(listenSocket);
  listenSocket = false;
  // uWS keeps open keep-alive sockets; the process is the unit to stop.
  process.exit(0);
}
process.on('SIGTERM', close);
process.on('SIGINT', close);
