/**
 * Database URLs: which backend a URL names, and how it may appear in a log
 * line (never with its password). One home for both rules, shared by the
 * configuration and the PostgreSQL store; no driver is loaded here.
 *
 * @example
 *   isPostgresUrl('POSTGRESQL://db/catalog');                          // true
 *   describeDatabaseUrl('postgres://shop:s3cret@db:5432/catalog?x=1'); // 'postgres://shop@db:5432/catalog'
 */
/** True when `url` names a PostgreSQL database (`postgres://` or `postgresql://`, any case): the one test config and the store share. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\/./i.test(url);
}

/** `postgres://user@host:port/database`: the URL without its password or parameters, for logs. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username === '' ? '' : `${decodeURIComponent(u.username)}@`;
    return `${u.protocol}//${user}${u.host}${u.pathname}`;
  } catch {
    return '(unparsable database URL)';
  }
}
