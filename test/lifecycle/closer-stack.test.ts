import { describe, expect, it } from 'vitest';
import { CloserStack } from '../../src/lifecycle/closer-stack.js';
import { createLogger } from '../../src/logger.js';

function stack() {
  const lines: Record<string, unknown>[] = [];
  const closers = new CloserStack(createLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>)));
  return { closers, lines };
}

describe('CloserStack', () => {
  it('closes in reverse order of pushing, each awaited before the next', async () => {
    const { closers } = stack();
    const order: string[] = [];
    closers.push('database', () => {
      order.push('database');
    });
    closers.push('redis', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push('redis');
    });
    closers.push('http', () => {
      order.push('http');
    });
    expect(closers.size).toBe(3);
    await closers.close();
    expect(order).toEqual(['http', 'redis', 'database']);
    expect(closers.size).toBe(0);
  });

  it('logs a failing close and still runs the others, and close() does not reject', async () => {
    const { closers, lines } = stack();
    const order: string[] = [];
    closers.push('database', () => {
      order.push('database');
    });
    closers.push('redis', () => Promise.reject(new Error('socket gone')));
    closers.push('pool', () => {
      throw new Error('worker stuck');
    });
    closers.push('http', () => {
      order.push('http');
    });
    await expect(closers.close()).resolves.toBeUndefined();
    expect(order).toEqual(['http', 'database']);
    expect(lines.map((l) => [l.level, l.resource, (l.err as { message: string }).message])).toEqual([
      ['error', 'pool', 'worker stuck'],
      ['error', 'redis', 'socket gone'],
    ]);
  });

  it('runs every close once, however often close() is called', async () => {
    const { closers } = stack();
    let calls = 0;
    closers.push('redis', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      calls++;
    });
    const first = closers.close();
    const second = closers.close();
    expect(second).toBe(first);
    await first;
    await closers.close();
    expect(calls).toBe(1);
  });

  it('closes at once what opens after close() began', async () => {
    const { closers } = stack();
    let closed = false;
    await closers.close();
    closers.push('late', () => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
    expect(closers.size).toBe(0);
  });
});
