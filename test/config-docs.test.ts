/**
 * The README's settings tables and src/config.ts agree: every variable the
 * configuration reads is documented, with its default where the code spells it
 * as a literal, and the README documents no variable the code does not read.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const CONFIG_SOURCE = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');

/** The README's `## Configuration` section, up to the next `## ` heading. */
function configurationSection(): string {
  const start = README.indexOf('\n## Configuration\n');
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** `| \`NAME\` | default | meaning |` rows of the settings tables. */
function documentedSettings(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of configurationSection().matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|/gm)) {
    rows.set(match[1]!, match[2]!.trim());
  }
  return rows;
}

/** `r.integer('NAME', 8000, ...)`: every variable the reader reads, with its literal default when it has one. */
function readSettings(): Map<string, string | undefined> {
  const read = new Map<string, string | undefined>();
  for (const match of CONFIG_SOURCE.matchAll(/\br\.(\w+)(?:<[^>]*>)?\('([A-Z][A-Z0-9_]+)'(?:,\s*([^,)]+))?/g)) {
    // optional*(name, min, ...) readers have no default: their second argument is a bound.
    read.set(match[2]!, match[1]!.startsWith('optional') ? undefined : literalDefault(match[3]));
  }
  return read;
}

/** `1_000_000` -> `1000000`, `'info'` -> `info`; anything computed -> undefined. */
function literalDefault(source: string | undefined): string | undefined {
  if (source === undefined) return undefined;
  const text = source.trim();
  if (/^-?[\d_]+(\.\d+)?$/.test(text)) return text.replaceAll('_', '');
  const quoted = /^'([^']+)'$/.exec(text);
  return quoted ? quoted[1] : undefined;
}

describe('configuration docs', () => {
  const documented = documentedSettings();
  const read = readSettings();

  it('finds the settings tables and the reader', () => {
    expect(documented.size).toBeGreaterThan(20);
    expect(read.size).toBeGreaterThan(20);
  });

  it('documents every variable src/config.ts reads', () => {
    const missing = [...read.keys()].filter((name) => !documented.has(name));
    expect(missing, 'variables missing from the README settings tables').toEqual([]);
  });

  it('documents no variable src/config.ts does not read', () => {
    const unknown = [...documented.keys()].filter((name) => !read.has(name));
    expect(unknown, 'README settings rows the configuration never reads').toEqual([]);
  });

  it('states each literal default as the code does', () => {
    const wrong = [...read]
      .filter(([name, fallback]) => fallback !== undefined && documented.get(name) !== `\`${fallback}\``)
      .map(([name, fallback]) => `${name}: code ${fallback}, README ${documented.get(name)}`);
    expect(wrong).toEqual([]);
  });
});
