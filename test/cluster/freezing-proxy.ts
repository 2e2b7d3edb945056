/**
 * A TCP proxy whose `freeze()` silences the connections open at that moment
 * (kept open, no byte forwarded either way, no error) while new connections
 * work normally: a blocking read stuck on a dead path while the server is fine,
 * which only a watchdog gets out of. (test/helpers/tcp-proxy.ts silences new
 * connections too and cuts the held ones when it stops, which a plain
 * reconnect already survives.)
 */
import { connect, createServer, type Socket } from 'node:net';

export interface FreezingProxy {
  readonly port: number;
  freeze(): void;
  close(): Promise<void>;
}

export async function startFreezingProxy(targetPort: number): Promise<FreezingProxy> {
  const sockets = new Set<Socket>();
  const live = new Set<{ frozen: boolean }>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    const state = { frozen: false };
    live.add(state);
    const upstream = connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.on('data', (chunk) => {
      if (!state.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!state.frozen) client.write(chunk);
    });
    client.on('close', () => {
      live.delete(state);
      upstream.destroy();
    });
    upstream.on('close', () => {
      if (!state.frozen) client.destroy();
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
    freeze() {
      for (const state of live) state.frozen = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
