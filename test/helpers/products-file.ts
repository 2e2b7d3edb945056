/**
 * PRODUCTS_FILE fixtures: one id per line, written fast enough for a million.
 *
 * @example
 *   const ids = writeProductsFile(join(dir, 'products.txt'), 1_000_000, (i) => `IMP-${i}`);
 */
import { writeFileSync } from 'node:fs';

/** Writes ids idOf(0..count-1), one per line, and returns a function giving id i. */
export function writeProductsFile(path: string, count: number, idOf: (i: number) => string): (i: number) => string {
  const parts: string[] = [];
  const chunk = 100_000;
  for (let start = 0; start < count; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) lines.push(idOf(i));
    parts.push(lines.join('\n') + '\n');
  }
  writeFileSync(path, parts.join(''));
  return idOf;
}

/** `count` indexes spread evenly over [0, total), first and last included. */
export function spreadSample(total: number, count: number): number[] {
  if (count >= total) return Array.from({ length: total }, (_, i) => i);
  const out: number[] = [];
  for (let j = 0; j < count; j++) out.push(Math.round((j * (total - 1)) / (count - 1)));
  return out;
}
