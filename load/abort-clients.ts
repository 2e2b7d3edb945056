/**
 * Clients that misbehave the way real ones do: they disconnect mid-request.
 * Each runs a loop over the kinds below on raw sockets until stopped. The
 * server must answer everyone else normally, log no 5xx and not crash.
 *
 * - half-headers: a request line and part of the headers, then close.
 * - no-read:      a whole GET for a cold existing id (the cache/database path,
 *                 so the answer comes after an await), then close at once.
 * - half-body:    POST /products announcing 200 body bytes, send 40, close.
 * - check-no-read: a whole POST /bloom/check (the pool path), then close.
 * - reset:        a whole GET, then a TCP RST instead of a FIN.
 *
 * @example
 *   const aborts = startAbortClients({ port, clients: 8, productCount: 100_000, seed: 1 });
 *   ...
 *   const counts = await aborts.stop(); // { 'half-headers': 120, ..., refused: 0 }
 */
import { connect, type Socket } from 'node:net';
import { existingId } from './products-file.js';
import { checkBody, seededRandom } from './scenarios.js';

export const ABORT_KINDS = ['half-headers', 'no-read', 'half-body', 'check-no-read', 'reset'] as const;
export type AbortKind = (typeof ABORT_KINDS)[number];

export type AbortCounts = Record<AbortKind | 'refused' | 'socket-errors', number>;

export interface AbortClientsOptions {
  readonly port: number;
  readonly clients: number;
  readonly productCount: number;
  readonly seed: number;
}

export interface AbortClients {
  stop(): Promise<AbortCounts>;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Opens a socket, runs `act` once connected, resolves when the socket is closed. */
function session(port: number, act: (socket: Socket) => void): Promise<'ok' | 'refused' | 'error'> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let outcome: 'ok' | 'refused' | 'error' = 'ok';
    socket.on('connect', () => act(socket));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Our own reset/destroy can surface as ECONNRESET/EPIPE; only a refused connect means the server is gone.
      if (err.code === 'ECONNREFUSED') outcome = 'refused';
      else if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') outcome = 'error';
    });
    socket.on('close', () => resolve(outcome));
    socket.setTimeout(2_000, () => socket.destroy());
  });
}

export function startAbortClients(options: AbortClientsOptions): AbortClients {
  const counts: AbortCounts = {
    'half-headers': 0,
    'no-read': 0,
    'half-body': 0,
    'check-no-read': 0,
    reset: 0,
    refused: 0,
    'socket-errors': 0,
  };
  const random = seededRandom(options.seed ^ 0x5a5a5a5a);
  const checkRequestBody = checkBody(200, random, options.productCount);
  const coldId = (): string => existingId(Math.floor(random() * options.productCount));
  let running = true;

  const actions: Record<AbortKind, (socket: Socket) => void> = {
    'half-headers': (s) => {
      s.write(`GET /products/${coldId()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl`);
      setTimeout(() => s.destroy(), 5);
    },
    'no-read': (s) => {
      s.end(`GET /products/${coldId()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      s.destroy();
    },
    'half-body': (s) => {
      const body = JSON.stringify({ id: `ABORT-${Math.floor(random() * 1e9)}`, name: 'x'.repeat(200), price: 1 });
      s.write(`POST /products HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body.slice(0, 40));
      setTimeout(() => s.destroy(), 5);
    },
    'check-no-read': (s) => {
      s.write(
        `POST /bloom/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(checkRequestBody)}\r\n\r\n${checkRequestBody}`,
      );
      s.destroy();
    },
    reset: (s) => {
      s.write(`GET /products/${coldId()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, () => s.resetAndDestroy());
    },
  };

  async function loop(offset: number): Promise<void> {
    for (let i = offset; running; i++) {
      const kind = ABORT_KINDS[i % ABORT_KINDS.length]!;
      const outcome = await session(options.port, actions[kind]);
      counts[kind]++;
      if (outcome === 'refused') {
        counts.refused++;
        await pause(50);
      } else if (outcome === 'error') {
        counts['socket-errors']++;
      }
    }
  }

  const loops = Array.from({ length: options.clients }, (_, i) => loop(i));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}
