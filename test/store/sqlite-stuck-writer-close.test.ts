/**
 * close() must end even when the writer thread is stuck: its close request
 * times out after writeTimeoutMs, and the thread is then terminated instead of
 * waiting for an exit that never comes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteProductStore, kStallWriter } from '../../src/store/sqlite-product-store.js';

describe('SqliteProductStore.close with a stuck writer thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bloomgate-stuck-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('terminates the thread once its close request timed out, and resolves', async () => {
    const store = await SqliteProductStore.open({ path: join(dir, 'products.db'), writeTimeoutMs: 200 });
    await store.insert({ id: 'before', name: 'Before', price: 1 }); // the writer thread is up
    store[kStallWriter](60_000); // stuck far longer than the bound below
    const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 8_000).unref());
    expect(await Promise.race([store.close().then(() => 'closed' as const), hung])).toBe('closed');
  });
});
