/**
 * A ProductStore that reports every call's outcome to a DatabaseHealth: a
 * DatabaseUnavailableError marks the database down, an answer marks it up.
 * Wrapped once where the store is opened, so no caller has to remember to.
 */
import { DatabaseUnavailableError } from '../errors.js';
import type { BatchInsertResult, CreatedRow, Position, Product, ProductStore, StoredProduct } from '../store/product-store.js';
import type { DatabaseHealth } from './database-health.js';

type Health = Pick<DatabaseHealth, 'ok' | 'failed'>;

export function trackHealth(store: ProductStore, health: Health): ProductStore {
  const track = <T>(p: Promise<T>): Promise<T> =>
    p.then(
      (value) => {
        health.ok();
        return value;
      },
      (err: unknown) => {
        if (err instanceof DatabaseUnavailableError) health.failed(err);
        throw err;
      },
    );
  async function* pages(source: AsyncIterable<readonly string[]>): AsyncIterable<readonly string[]> {
    const it = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await track(it.next());
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await it.return?.();
    }
  }
  return {
    backend: store.backend,
    get: (id: string): Promise<StoredProduct | undefined> => track(store.get(id)),
    insert: (product: Product): Promise<CreatedRow | null> => track(store.insert(product)),
    insertMany: (products: readonly Product[]): Promise<BatchInsertResult> => track(store.insertMany(products)),
    delete: (id: string): Promise<boolean> => track(store.delete(id)),
    update: (product: Product): Promise<boolean> => track(store.update(product)),
    count: (): Promise<number> => track(store.count()),
    scanIds: (pageSize: number) => pages(store.scanIds(pageSize)),
    idsFrom: (from: Position, pageSize: number) => pages(store.idsFrom(from, pageSize)),
    horizon: (): Promise<Position> => track(store.horizon()),
    nextPosition: (): Promise<Position> => track(store.nextPosition()),
    lastIdBefore: (position: Position): Promise<string | undefined> => track(store.lastIdBefore(position)),
    importIds: (ids: readonly string[]) => track(store.importIds(ids)),
    databaseId: (): Promise<string> => track(store.databaseId()),
    setting: (key: string): Promise<string | undefined> => track(store.setting(key)),
    initSetting: (key: string, value: string): Promise<string> => track(store.initSetting(key, value)),
    putSetting: (key: string, value: string): Promise<void> => track(store.putSetting(key, value)),
    lockInstance: (namespace: string): Promise<void> => track(store.lockInstance(namespace)),
    close: (): Promise<void> => store.close(),
  };
}
