/**
 * Cleanup for the cluster tests: every key of the cluster protocol in one
 * namespace (`bloom:feed:<ns>`, `bloom:lease:<ns>:<id>`, ...), see
 * src/cluster/cluster-keys.ts. Namespaces are unique per test, so the pattern
 * touches nothing of other tests.
 */
import type { Redis } from 'ioredis';

export async function deleteClusterKeys(client: Redis, namespace: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `bloom:*:${namespace}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Kills the connections named `name` (CLIENT KILL ID), like a network cut; returns how many. */
export async function killClientsNamed(client: Redis, name: string): Promise<number> {
  const list = await client.client('LIST');
  let killed = 0;
  for (const line of String(list).split('\n')) {
    if (!line.includes(` name=${name} `)) continue;
    const id = /\bid=(\d+)/.exec(line)?.[1];
    if (id !== undefined) killed += Number(await client.client('KILL', 'ID', id));
  }
  return killed;
}
