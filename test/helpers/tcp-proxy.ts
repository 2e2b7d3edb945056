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
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** true: swallow all data and accept new connections without connecting upstream. false: cut held connections and forward again. */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
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
    client.on('data', (chunk) => {
      if (!holding) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!holding) client.write(chunk);
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
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
