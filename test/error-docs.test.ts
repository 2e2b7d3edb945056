/**
 * The README's error table and src/errors.ts agree: every code the service can
 * answer is documented with its status, and the README lists no code that does
 * not exist (fastify keeps its error docs honest the same way).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { definedErrorCodes } from './helpers/error-codes.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** `| \`code\` | 503 | ... |` rows: the README's error table. */
function documentedCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const match of README.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) rows.set(match[1]!, Number(match[2]));
  return rows;
}

describe('error docs', () => {
  const defined = definedErrorCodes();
  const documented = documentedCodes();

  it('finds the error classes and the README table', () => {
    expect(defined.size).toBeGreaterThan(10);
    expect(documented.size).toBeGreaterThan(10);
  });

  it('documents every code of src/errors.ts in the README, with its status', () => {
    const missing = [...defined].filter(([code, status]) => documented.get(code) !== status).map(([code, status]) => `${code} (${status})`);
    expect(missing, 'codes missing from the README error table, or with another status').toEqual([]);
  });

  it('documents no code that src/errors.ts does not define', () => {
    const unknown = [...documented.keys()].filter((code) => !defined.has(code));
    expect(unknown, 'README error table rows without an error class').toEqual([]);
  });
});
