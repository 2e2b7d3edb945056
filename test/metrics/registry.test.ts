/** The registry's default process_/nodejs_ metrics: kept, but without the gauges promtool rejects for their `_total` name. */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/registry.js';

describe('Metrics default metrics', () => {
  it('drops the nodejs_active_*_total gauges and keeps the rest of the process_ and nodejs_ metrics', async () => {
    const metrics = await new Metrics().registry.getMetricsAsJSON();
    const names = metrics.map((m) => m.name);
    for (const gone of ['handles', 'requests', 'resources']) expect(names).not.toContain(`bloomgate_nodejs_active_${gone}_total`);
    expect(names).toEqual(
      expect.arrayContaining([
        'bloomgate_nodejs_active_handles',
        'bloomgate_nodejs_active_requests',
        'bloomgate_nodejs_active_resources',
        'bloomgate_process_resident_memory_bytes',
        'bloomgate_process_cpu_seconds_total',
        'bloomgate_nodejs_eventloop_lag_p99_seconds',
        'bloomgate_nodejs_heap_size_used_bytes',
      ]),
    );
    // Only a counter may end in _total: every _total left is one.
    for (const m of metrics) if (m.name.endsWith('_total')) expect(m.type, m.name).toBe('counter');
  });
});
