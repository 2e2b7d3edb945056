import { describe, expect, it } from 'vitest';
import { FalseNegativeAudit } from '../../src/upkeep/false-negative-audit.js';
import { createLogger } from '../../src/logger.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';

function setup(sampleEvery: number, inDatabase: Set<string>, inFilter = new Set<string>()) {
  const lines: string[] = [];
  const audit = new FalseNegativeAudit({
    sampleEvery,
    maxPerSecond: 5,
    exists: (id) => inDatabase.has(id),
    mayContain: (id) => inFilter.has(id),
    repair: (id) => inFilter.add(id),
    logger: createLogger('info', (line) => lines.push(line)),
    queueLimit: 4,
  });
  return { audit, lines, inFilter };
}

describe('FalseNegativeAudit', () => {
  it('samples one rejection in sampleEvery', () => {
    const { audit } = setup(3, new Set());
    for (let i = 0; i < 9; i++) audit.sample(`id-${i}`);
    expect(audit.queued).toBe(3);
  });

  it('finds, counts, logs at error level and repairs an id the database has', () => {
    const { audit, lines, inFilter } = setup(1, new Set(['planted']));
    audit.sample('nope');
    audit.sample('planted');
    expect(audit.checkOne()).toBe(false);
    expect(audit.checkOne()).toBe(true);
    expect(audit).toMatchObject({ checks: 2, falseNegatives: 1 });
    expect(inFilter.has('planted')).toBe(true);
    const logged = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 'error', id: 'planted' });
    expect(String(logged.msg)).toContain('FALSE NEGATIVE');
  });

  it('does not report an id created after its rejection (the filter has it by the time of the check)', () => {
    const { audit } = setup(1, new Set(['late']), new Set(['late']));
    audit.sample('late');
    expect(audit.checkOne()).toBe(false);
    expect(audit.falseNegatives).toBe(0);
  });

  it('bounds its queue and is off when sampleEvery is 0', () => {
    const { audit } = setup(1, new Set());
    for (let i = 0; i < 10; i++) audit.sample(`id-${i}`);
    expect(audit.queued).toBe(4);
    expect(audit.dropped).toBe(6);
    const off = setup(0, new Set()).audit;
    off.sample('x');
    expect(off.queued).toBe(0);
  });
});

describe('FalseNegativeAudit on its timer', () => {
  function timed(maxPerSecond: number, sampleEvery = 1) {
    const scheduler = new ManualScheduler();
    const inFilter = new Set<string>();
    const audit = new FalseNegativeAudit({
      sampleEvery,
      maxPerSecond,
      exists: (id) => id === 'planted',
      mayContain: (id) => inFilter.has(id),
      repair: (id) => inFilter.add(id),
      logger: createLogger('silent'),
      scheduler,
    });
    return { audit, scheduler, inFilter };
  }

  it('checks at most maxPerSecond queued ids a second, and repairs on its own', () => {
    const { audit, scheduler, inFilter } = timed(5);
    for (let i = 0; i < 9; i++) audit.sample(`absent-${i}`);
    audit.sample('planted');
    audit.start();
    scheduler.advance(999);
    expect(audit.checks).toBe(4); // at 200, 400, 600, 800 ms
    scheduler.advance(1);
    expect(audit.checks).toBe(5);
    scheduler.advance(1000);
    expect(audit).toMatchObject({ checks: 10, falseNegatives: 1, queued: 0 });
    expect(inFilter.has('planted')).toBe(true);
  });

  it('stops checking once closed, and never starts when sampling is off', () => {
    const { audit, scheduler } = timed(10);
    audit.sample('a');
    audit.sample('b');
    audit.start();
    audit.start(); // a second start adds no second timer
    expect(scheduler.pending).toBe(1);
    scheduler.advance(100);
    audit.close();
    scheduler.advance(10_000);
    expect(audit.checks).toBe(1);
    expect(scheduler.pending).toBe(0);
    const off = timed(10, 0);
    off.audit.start();
    expect(off.scheduler.pending).toBe(0);
  });
});
