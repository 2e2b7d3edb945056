/** Where the scrape-time metrics read from: the live filter, pool, Redis and upkeep. */
import type { ActiveFilter } from '../filter/active-filter.js';
import { filterGauges } from '../filter/filter-gauges.js';
import type { MetricsSources } from '../metrics/registry.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { FalseNegativeAudit } from '../upkeep/false-negative-audit.js';
import type { Upkeep } from './upkeep.js';

export function metricSources(active: ActiveFilter, redis: RedisConnection, audit: FalseNegativeAudit, upkeep: Upkeep): MetricsSources {
  const { observedFpr, rebuilder } = upkeep;
  return {
    filter: () => filterGauges(active.filter),
    pool: () => active.pool.stats(),
    redisHealthy: () => redis.healthy,
    dirtyShards: () => active.filter.peekDirtyCount(),
    observedFpr: () => ({ window: observedFpr.window().rate, total: observedFpr.total().rate }),
    rebuild: () => rebuilder.state,
    audit: () => audit,
  };
}
