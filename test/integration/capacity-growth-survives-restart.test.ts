/**
 * More ids than BLOOM_CAPACITY: the service grows the filter online (double
 * capacity, same target FPR), keeps the grown capacity in the database, and
 * the next start sizes the filter from it and restores its own snapshot
 * instead of refusing it forever. On both backends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendDatabase } from '../helpers/backends.js';
import { sku } from '../helpers/ids.js';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl, uniqueNamespace } from '../helpers/redis-namespace.js';
import { waitForValue } from '../helpers/wait-for.js';

interface BloomStats {
  capacity: number;
  items: number;
  target_fpr: number;
  rebuild: { completed: number; running: boolean; last: { reason: string; from_capacity: number; to_capacity: number } | null };
  snapshot: { pending_full: boolean; saves: number };
  load: { source: string } | null;
}

async function bloomStats(svc: TestService): Promise<BloomStats> {
  return (await svc.get<BloomStats>('/bloom/stats')).body;
}

describe.each(BACKENDS)('capacity growth on $name', (backend) => {
  const env = { REDIS_URL: uniqueMemoryUrl(), BLOOM_STATE_NAMESPACE: uniqueNamespace('grow'), BLOOM_CAPACITY: '1000', SNAPSHOT_INTERVAL_MS: '20' };
  let svc: TestService | undefined;
  let db: BackendDatabase | undefined;
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  it('doubles capacity until the rows fit, and the next start restores the grown snapshot', async () => {
    db = await backend.open();
    const dir = db.dir;
    const options = { databaseUrl: db.databaseUrl };
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: 3000 }, (_, i) => sku(i)).join('\n') + '\n');
    const growing = await startTestService(env, dir, options);
    svc = growing;
    const grown = await waitForValue(
      'the grown filter and its full snapshot',
      () => bloomStats(growing),
      (s) => s.rebuild.completed === 1 && !s.snapshot.pending_full && s.snapshot.saves > 0,
      20_000,
    );
    expect(grown).toMatchObject({ capacity: 4000, items: 3000, target_fpr: 0.01, rebuild: { last: { reason: 'capacity', from_capacity: 1000, to_capacity: 4000 } } });
    expect(svc.logs.some((l) => l.includes('filter rebuild triggered: capacity'))).toBe(true);
    await svc.close();

    svc = await startTestService(env, dir, options);
    const restarted = (await svc.get<BloomStats>('/bloom/stats')).body;
    expect(restarted).toMatchObject({ capacity: 4000, items: 3000, load: { source: 'snapshot' }, rebuild: { completed: 0 } });
    for (const i of [0, 1234, 2999]) expect((await svc.get(`/products/${sku(i)}`)).status).toBe(200);
    expect(svc.logs.some((l) => l.includes('snapshot refused'))).toBe(false);
  });
});
