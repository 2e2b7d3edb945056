/**
 * What a bench scenario is: the cases it compares (a server under a workload),
 * run back to back in one block each round, and the figures it derives from
 * their samples. One module per scenario beside this file; load/bench.ts runs
 * the ones asked for.
 */
import type { LoadContext } from './load.js';
import type { Row, Sample, ServerName, Workload } from './options.js';
import { fmtRatio } from './stats.js';

export interface BenchCase {
  readonly server: ServerName;
  readonly workload: Workload;
}

/** Samples of the run, by case key `<scenario>/<workload>:<server>`. */
export interface Results {
  per(key: string): readonly Sample[];
  /** Median over rounds of (a in round r) / (b in round r): both halves seconds apart. */
  ratio(a: string, b: string, field: 'rps' | 'p99Us' | 'cpuUsPerReq'): number;
  med(key: string, field: keyof Sample): number;
}

export interface BenchScenario {
  readonly name: string;
  /** One line for `npm run bench -- --list`. */
  readonly about: string;
  readonly cases: readonly BenchCase[];
  /** Runs once before the rounds (e.g. builds an in-process baseline, or runs a micro benchmark). */
  prepare?(ctx: LoadContext): void | Promise<void>;
  /** Runs after this scenario's block in each round (e.g. measures that baseline). */
  afterBlock?(round: number, log: (line: string) => void): void;
  /** The figures table rows. */
  rows(results: Results): Row[];
  /** Extra lines for the per-case table. */
  caseRows?(results: Results): string[];
}

export function caseKey(scenario: string, c: BenchCase): string {
  return `${scenario}/${c.workload}:${c.server}`;
}

/** A ratio figure with a target (`null`: reported only). */
export function ratioRow(figure: string, value: number, target: number | null, atLeast = true): Row {
  const verdict = !Number.isFinite(value) ? 'pending' : target === null ? '' : (atLeast ? value >= target : value <= target) ? 'meets' : 'MISSES';
  return { figure, value: fmtRatio(value), target: target === null ? '(report)' : `${atLeast ? '>=' : '<='} ${target}x`, verdict };
}
