/**
 * The HTTP request duration histogram, kept in a Float64Array so an observation
 * is a bucket search and two increments (no labels object, no string keys).
 * It is exposed to prom-client as a custom metric whose values are built at
 * scrape time, in the exact shape prom-client's own Histogram produces.
 */

/** Upper bounds in seconds. The rejection path answers in tens of microseconds, so the low end is fine-grained. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

interface Series {
  readonly route: string;
  readonly status: number;
  /** One count per bucket (non-cumulative) plus +Inf, then the sum of seconds. */
  readonly cells: Float64Array;
}

export interface PromValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

export class RequestHistogram {
  readonly name: string;
  readonly #routes: string[] = [];
  readonly #bounds = REQUEST_DURATION_BUCKETS;
  // Keyed by routeIndex * 1000 + status: a small-integer Map key, no string building per request.
  readonly #series = new Map<number, Series>();

  constructor(name: string) {
    this.name = name;
  }

  /**
   * The index to observe `label` with, registering it on first use. The route
   * table's owner registers its labels once, up front (metrics knows no routes).
   */
  route(label: string): number {
    const known = this.#routes.indexOf(label);
    if (known !== -1) return known;
    return this.#routes.push(label) - 1;
  }

  /** Records one request: `startedMs` is its `performance.now()` at arrival. */
  observeSince(routeIndex: number, status: number, startedMs: number): void {
    this.observe(routeIndex, status, (performance.now() - startedMs) / 1000);
  }

  observe(routeIndex: number, status: number, seconds: number): void {
    const key = routeIndex * 1000 + status;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { route: this.#routes[routeIndex] ?? 'unknown', status, cells: new Float64Array(this.#bounds.length + 2) };
      this.#series.set(key, series);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.cells[i]!++;
    series.cells[bounds.length + 1]! += seconds;
  }

  /** Cumulative buckets, `_sum` and `_count` per series, as prom-client's registry expects them. */
  values(): PromValue[] {
    const out: PromValue[] = [];
    const n = this.#bounds.length;
    for (const { route, status, cells } of this.#series.values()) {
      const labels = { route, status };
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        cumulative += cells[i]!;
        out.push({ labels: { ...labels, le: this.#bounds[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      cumulative += cells[n]!;
      out.push({ labels: { ...labels, le: '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
      out.push({ labels, value: cells[n + 1]!, metricName: `${this.name}_sum` });
      out.push({ labels, value: cumulative, metricName: `${this.name}_count` });
    }
    return out;
  }
}
