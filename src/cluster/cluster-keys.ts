/**
 * The Redis keys of the cluster protocol, in one place so writers, readers and
 * tests agree. All are per namespace (BLOOM_STATE_NAMESPACE), next to the
 * `bloom:cache:<ns>:*` and `bloom:state:<ns>:*` keys of the single-instance
 * service. The scripts that touch several of them assume one Redis (not
 * Redis Cluster, where they would need a common hash tag).
 */
export interface ClusterKeys {
  /** The change feed (a Stream). */
  readonly feed: string;
  /** The membership epoch: a random value made by the first registration (SET NX). */
  readonly epoch: string;
  /** Set of instance ids that registered a lease (pruned when their lease key is gone). */
  readonly members: string;
  /** Hash instanceId -> last applied feed entry id. */
  readonly applied: string;
  /** Pub/sub channel announcing applied positions. */
  readonly appliedChannel: string;
  /** Snapshot writer lock and its fencing counter (the last fenced write's token lives in the snapshot hash). */
  readonly snapshotLock: string;
  readonly snapshotFenceCounter: string;
  /** One online rebuild at a time across the cluster. */
  readonly rebuildLock: string;
  lease(instanceId: string): string;
}

export function clusterKeys(namespace: string): ClusterKeys {
  return {
    feed: `bloom:feed:${namespace}`,
    epoch: `bloom:epoch:${namespace}`,
    members: `bloom:members:${namespace}`,
    applied: `bloom:applied:${namespace}`,
    appliedChannel: `bloom:applied-channel:${namespace}`,
    snapshotLock: `bloom:snapshot-lock:${namespace}`,
    snapshotFenceCounter: `bloom:snapshot-fence-counter:${namespace}`,
    rebuildLock: `bloom:rebuild-lock:${namespace}`,
    lease: (instanceId) => `bloom:lease:${namespace}:${instanceId}`,
  };
}
