/**
 * A TCP proxy on 127.0.0.1 that can black-hole its traffic: connections stay
 * open but no byte goes through, like a Redis that hangs (GC pause, SIGSTOP,
 * a dead network path) rather than one that refuses connections. That is the
 * case a command timeout exists for.
 *
 * @example
 *   const proxy = await startTcpProxy(redis.port);
 *   // point the service at redis://127.0.0.1:${proxy.port}
 *   proxy.blackhole(true);   // everything in flight and after it hangs
 *   proxy.blackhole(false);  // new connections work again (held ones are cut)
 *   await proxy.close();
 *
 *   const slow = await startTcpProxy(redis.port, { delayMs: 20 }); // a Redis answering slowly
 *   slow.setDelay(0);        // later bytes go through at once again
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** true: swallow all data and accept new connections without connecting upstream. false: cut held connections and forward again. */
  blackhole(on: boolean): void;
  /** Holds every chunk (both directions) this long before forwarding it; 0: forward at once. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Initial delay of every chunk in each direction (ms); default 0. */
  readonly delayMs?: number;
}

/**
 * Writes `chunk` to `to` after the delay, never before a chunk queued earlier on
 * the same path: a byte stream must stay in order even when the delay shrinks.
 */
function delayedWriter(to: Socket, delay: () => number, holding: () => boolean): (chunk: Buffer) => void {
  let lastRelease = 0;
  return (chunk) => {
    const ms = delay();
    if (ms <= 0 && lastRelease <= performance.now()) {
      if (!holding()) to.write(chunk);
      return;
    }
    const release = Math.max(performance.now() + ms, lastRelease);
    lastRelease = release;
    setTimeout(() => {
      if (!holding() && !to.destroyed) to.write(chunk);
    }, release - performance.now());
  };
}

export async function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  let delayMs = options.delayMs ?? 0;
  let holding = false;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (holding) {
      client.on('data', () => {}); // read and drop: the peer sees a silent server
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    const isHolding = (): boolean => holding;
    const toUpstream = delayedWriter(upstream, () => delayMs, isHolding);
    const toClient = delayedWriter(client, () => delayMs, isHolding);
    client.on('data', (chunk: Buffer) => {
      if (!holding) toUpstream(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) toClient(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // While black-holing, keep the client's socket open: the hang is the point.
      if (!holding) client.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the proxy has no port');
  return {
    port: address.port,
    blackhole(on: boolean) {
      if (holding && !on) for (const s of sockets) s.destroy();
      holding = on;
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
