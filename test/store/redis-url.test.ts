import { describe, expect, it } from 'vitest';
import { REDIS_URL_RULE, redactUrl, redisUrlKind } from '../../src/store/redis-url.js';

describe('redisUrlKind', () => {
  it('accepts the four schemes and tells a server from an in-process stand-in', () => {
    expect(redisUrlKind('redis://127.0.0.1:6379/0')).toEqual({ kind: 'server' });
    expect(redisUrlKind('rediss://u:p@h:6380/1')).toEqual({ kind: 'server' });
    expect(redisUrlKind('memory://')).toEqual({ kind: 'in-process', name: '' });
    expect(redisUrlKind('fakeredis://tests-1')).toEqual({ kind: 'in-process', name: 'tests-1' });
  });

  it('refuses other schemes and a server URL without a host', () => {
    for (const url of ['http://x', 'redis://', 'REDIS://h', 'localhost:6379', '']) expect(redisUrlKind(url)).toBeUndefined();
    expect(REDIS_URL_RULE).toBe('must start with redis://, rediss://, memory:// or fakeredis://');
  });
});

describe('redactUrl', () => {
  it.each([
    ['redis://user:secret@h:6379/0', 'redis://***@h:6379/0'],
    ['redis://:secret@h:6379', 'redis://***@h:6379'],
    ['rediss://secret@h', 'rediss://***@h'],
    // An unescaped @ or / in the password: nothing of it survives.
    ['redis://u:se@cr/et@h:6379/0', 'redis://***@h:6379/0'],
    ['user:secret@h:6379', '***@h:6379'],
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
    expect(redactUrl(url)).not.toMatch(/secret|se@cr|et@h|user/);
  });

  it('leaves a URL without credentials as it is', () => {
    expect(redactUrl('redis://h:6379/0')).toBe('redis://h:6379/0');
    expect(redactUrl('memory://tests')).toBe('memory://tests');
  });
});
