import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { DatabaseHealth } from '../../src/service/database-health.js';
import { trackHealth } from '../../src/service/health-tracked-store.js';
import type { ProductStore } from '../../src/store/product-store.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DatabaseHealth', () => {
  it('goes down on a failure, checks on the scheduler only while down, and comes back when a check answers', async () => {
    const scheduler = new ManualScheduler();
    let up = false;
    let checks = 0;
    const health = new DatabaseHealth({
      check: async () => {
        checks++;
        if (!up) throw new DatabaseUnavailableError('still down');
      },
      logger: createLogger('silent'),
      scheduler,
      checkEveryMs: 1000,
    });
    expect(scheduler.pending).toBe(0);
    health.failed(new DatabaseUnavailableError('no answer'));
    expect(health.healthy).toBe(false);
    expect(health.lastError).toMatch(/no answer/);
    scheduler.advance(1000);
    await settle();
    expect(checks).toBe(1);
    expect(health.healthy).toBe(false);
    up = true;
    scheduler.advance(1000);
    await settle();
    expect(health.healthy).toBe(true);
    expect(scheduler.pending).toBe(0); // no checks while healthy
  });
});

describe('trackHealth', () => {
  it('marks the database down on DatabaseUnavailableError (also while paging), up on any answer, and passes other errors through', async () => {
    const events: string[] = [];
    let mode: 'ok' | 'down' | 'bug' = 'ok';
    const answer = async <T>(value: T): Promise<T> => {
      if (mode === 'down') throw new DatabaseUnavailableError('no answer');
      if (mode === 'bug') throw new TypeError('a bug');
      return value;
    };
    const inner = {
      get: (id: string) => answer({ id, name: 'n', price: 1, createdAt: 0 }),
      async *idsFrom() {
        yield await answer(['a']);
        yield await answer(['b']);
      },
    } as Pick<ProductStore, 'get' | 'idsFrom'>;
    const store = trackHealth(inner as ProductStore, { ok: () => void events.push('ok'), failed: () => void events.push('failed') });
    await store.get('x');
    mode = 'down';
    await expect(store.get('x')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    mode = 'bug';
    await expect(store.get('x')).rejects.toBeInstanceOf(TypeError);
    mode = 'ok';
    const pages: string[] = [];
    const it = store.idsFrom(0, 10)[Symbol.asyncIterator]();
    pages.push(...((await it.next()).value as string[]));
    mode = 'down';
    await expect(it.next()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(pages).toEqual(['a']);
    expect(events).toEqual(['ok', 'failed', 'ok', 'failed']);
  });
});
