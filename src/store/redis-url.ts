/**
 * What a REDIS_URL may be, in one place: the config check and the connection
 * both read it from here.
 *
 * - `redis://…` and `rediss://…` (TLS): a real server;
 * - `memory://name` and `fakeredis://name` (the old name): an in-process
 *   stand-in, one data set per name.
 *
 * @example
 *   redisUrlKind('rediss://h:6380/1');   // { kind: 'server' }
 *   redisUrlKind('memory://tests-1');    // { kind: 'in-process', name: 'tests-1' }
 *   redactUrl('redis://u:secret@h:6379'); // 'redis://***@h:6379'
 */

export const REDIS_SERVER_SCHEMES = ['redis', 'rediss'] as const;
export const REDIS_IN_PROCESS_SCHEMES = ['memory', 'fakeredis'] as const;
export const REDIS_URL_SCHEMES = [...REDIS_SERVER_SCHEMES, ...REDIS_IN_PROCESS_SCHEMES] as const;

const LISTED = REDIS_URL_SCHEMES.map((scheme) => `${scheme}://`);
/** The rule, as config and connection errors state it. */
export const REDIS_URL_RULE = `must start with ${LISTED.slice(0, -1).join(', ')} or ${LISTED.at(-1) ?? ''}`;

export type RedisUrlKind = { readonly kind: 'server' } | { readonly kind: 'in-process'; readonly name: string };

/** How to open `url`, or undefined when it is not a Redis URL bloomgate accepts. */
export function redisUrlKind(url: string): RedisUrlKind | undefined {
  const match = /^([a-z]+):\/\/(.*)$/s.exec(url);
  if (match === null) return undefined;
  const scheme = match[1] ?? '';
  const rest = match[2] ?? '';
  if ((REDIS_IN_PROCESS_SCHEMES as readonly string[]).includes(scheme)) return { kind: 'in-process', name: rest };
  // A server URL needs at least a host.
  if ((REDIS_SERVER_SCHEMES as readonly string[]).includes(scheme) && rest !== '') return { kind: 'server' };
  return undefined;
}

/**
 * The URL without its credentials, for logs and messages: everything between
 * `scheme://` and the LAST `@` becomes `***`, so neither the user nor any part
 * of a password (even one holding an unescaped `@` or `/`) is ever printed.
 */
export function redactUrl(url: string): string {
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  const start = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0].length ?? 0;
  return at < start ? url : `${url.slice(0, start)}***${url.slice(at)}`;
}
