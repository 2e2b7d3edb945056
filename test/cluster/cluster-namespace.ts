/**
 * Cleanup for the cluster tests: every key of the cluster protocol in one
 * namespace (`bloom:feed:<ns>`, `bloom:lease:<ns>:<id>`, ...), see
 * src/cluster/cluster-keys.ts. Namespaces are unique per test, so the pattern
 * touches nothing of other tests.
 */
import type { Redis } from 'ioredis';
import { deleteKeysMatching } from '../helpers/redis-namespace.js';

export function deleteClusterKeys(client: Redis, namespace: string): Promise<number> {
  return deleteKeysMatching(client, `bloom:*:${namespace}*`);
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
