import { describe, expect, it } from 'vitest';
import { describeDatabaseUrl, isPostgresUrl } from '../../src/store/database-url.js';

describe('isPostgresUrl', () => {
  it.each(['postgres://db/shop', 'postgresql://u:p@db:5432/shop', 'POSTGRES://db/shop', 'PostgreSQL://db/shop'])('accepts %s (schemes are case-insensitive)', (url) => {
    expect(isPostgresUrl(url)).toBe(true);
  });

  it.each(['postgres://', 'mysql://db/shop', 'sqlite:data/products.db', 'postgres:db', ' postgres://db/shop'])('refuses %j', (url) => {
    expect(isPostgresUrl(url)).toBe(false);
  });
});

describe('describeDatabaseUrl', () => {
  it('keeps scheme, user, host and database, and drops the password and parameters', () => {
    expect(describeDatabaseUrl('POSTGRES://shop:s3cret@db:5432/catalog?sslmode=require')).toBe('postgres://shop@db:5432/catalog');
  });
});
