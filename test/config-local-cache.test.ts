/** The local cache settings (issue 12): defaults, bounds, and the messages that name each variable. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('loadConfig: local cache', () => {
  it('defaults to 10,000 entries, 16 MiB of bodies and one minute of age; 0 entries turns it off', () => {
    expect(loadConfig({})).toMatchObject({ localCacheEntries: 10_000, localCacheBytes: 16 * 1024 * 1024, localCacheMaxAgeMs: 60_000 });
    expect(loadConfig({ LOCAL_CACHE_ENTRIES: '0' }).localCacheEntries).toBe(0);
    expect(loadConfig({ LOCAL_CACHE_ENTRIES: '500', LOCAL_CACHE_BYTES: '65536', LOCAL_CACHE_MAX_AGE_MS: '250' })).toMatchObject({
      localCacheEntries: 500,
      localCacheBytes: 65_536,
      localCacheMaxAgeMs: 250,
    });
  });

  it.each([
    [{ LOCAL_CACHE_ENTRIES: '-1' }, 'LOCAL_CACHE_ENTRIES="-1" must be an integer from 0 to 10000000'],
    [{ LOCAL_CACHE_ENTRIES: 'many' }, 'LOCAL_CACHE_ENTRIES="many" must be an integer from 0 to 10000000'],
    [{ LOCAL_CACHE_BYTES: '100' }, 'LOCAL_CACHE_BYTES="100" must be an integer from 1024 to 1099511627776'],
    [{ LOCAL_CACHE_MAX_AGE_MS: '0' }, 'LOCAL_CACHE_MAX_AGE_MS="0" must be an integer from 1 to 86400000'],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
