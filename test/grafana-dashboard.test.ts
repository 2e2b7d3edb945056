/** load/grafana-dashboard.json must only query metrics bloomgate exports (the dashboard and the code cannot drift apart). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics, type MetricsSources } from '../src/metrics/registry.js';

/** Every source wired, so every metric the dashboard may query has a value. */
const SOURCES: MetricsSources = {
  filter: () => ({ items: 1, capacity: 2, bits: 64, fillRatio: 0.1, estimatedFpr: 0.01, targetFpr: 0.01, staleItems: 0 }),
  pool: () => ({ threads: 1, queueSize: 0, utilization: 0 }),
  redisHealthy: () => true,
  dirtyShards: () => 0,
  observedFpr: () => ({ window: null, total: null }),
  rebuild: () => ({ running: false, progress: 0 }),
  audit: () => ({ checks: 0, falseNegatives: 0 }),
};

describe('Grafana dashboard', () => {
  it('queries only metrics the registry defines', async () => {
    const dashboard = readFileSync(new URL('../load/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set([...dashboard.matchAll(/bloomgate_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));
    const metrics = new Metrics();
    metrics.setSources(SOURCES);
    const text = await metrics.registry.metrics();
    const defined = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !defined.has(name))).toEqual([]);
  });

  it('shows the filter size in bytes, the base unit bloomgate exports', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../load/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { title: string; fieldConfig?: { defaults?: { unit?: string } }; targets?: { expr?: string }[] }[];
    };
    const sizePanels = dashboard.panels.filter((p) => p.targets?.some((t) => t.expr?.includes('bloomgate_filter_size_bytes')));
    expect(sizePanels.map((p) => p.fieldConfig?.defaults?.unit)).toEqual(['bytes']);
    const metrics = new Metrics();
    metrics.setSources(SOURCES);
    expect(await metrics.registry.metrics()).toMatch(/^bloomgate_filter_size_bytes 8$/m);
  });
});
