/**
 * Lookup outcomes counted as plain numbers on the request path. prom-client's
 * label lookups cost more than the whole filter check, so nothing on the hot
 * path touches prom-client: the registry reads these at scrape time
 * (src/metrics/registry.ts) and `/stats` serialises them as JSON.
 */
export class LookupCounters {
  /** Rejected by the filter: no cache, no database. */
  bloomRejected = 0;
  /** Passed the filter, answered "absent" by the negative cache. */
  negativeCacheHit = 0;
  /** Passed the filter, answered from Redis. */
  cacheHit = 0;
  /** Passed the filter, answered from the in-process cache (src/cache/), with no Redis trip. */
  localCacheHit = 0;
  /** Passed the filter, missed the cache, found in the database. */
  dbHit = 0;
  /** Passed the filter, missed the cache, absent from the database: a filter false positive. */
  dbMiss = 0;
  /** Database reads made by lookups (single flight may serve several lookups with one). */
  dbQueries = 0;
  /** Lookups that shared another lookup's in-flight cache and database work. */
  coalesced = 0;
  /** Cache commands that failed or timed out (the lookup fell through to the database). */
  cacheErrors = 0;

  get lookups(): number {
    return this.bloomRejected + this.negativeCacheHit + this.cacheHit + this.localCacheHit + this.dbHit + this.dbMiss;
  }

  /** Lookups answered without a database query. */
  get dbRoundtripsAvoided(): number {
    return Math.max(0, this.lookups - this.dbQueries);
  }

  /** The `/stats` JSON body. */
  toJSON(): Record<string, number> {
    const lookups = this.lookups;
    return {
      lookups,
      bloom_rejected: this.bloomRejected,
      negative_cache_hit: this.negativeCacheHit,
      cache_hit: this.cacheHit,
      local_cache_hit: this.localCacheHit,
      db_hit: this.dbHit,
      db_miss: this.dbMiss,
      db_queries: this.dbQueries,
      db_roundtrips_avoided: this.dbRoundtripsAvoided,
      db_roundtrip_reduction: lookups === 0 ? 0 : this.dbRoundtripsAvoided / lookups,
      false_positives: this.dbMiss,
      coalesced_lookups: this.coalesced,
      cache_errors: this.cacheErrors,
    };
  }
}
