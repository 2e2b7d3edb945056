import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/errors.js';
import { FalseNegativeAudit } from '../../src/upkeep/false-negative-audit.js';
import { createLogger } from '../../src/logger.js';
import { ManualScheduler } from '../helpers/manual-scheduler.js';

function setup(sampleEvery: number, inDatabase: Set<string>, inFilter = new Set<string>()) {
  const lines: string[] = [];
  const audit = new FalseNegativeAudit({
    sampleEvery,
    maxPerSecond: 5,
    exists: async (id) => {
      if (id === 'db-down') throw new DatabaseUnavailableError('no answer');
      return inDatabase.has(id);
    },
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

  it('finds, counts, logs at error level and repairs an id the database has', async () => {
    const { audit, lines, inFilter } = setup(1, new Set(['planted']));
    audit.sample('nope');
    audit.sample('planted');
    expect(await audit.checkOne()).toBe(false);
    expect(await audit.checkOne()).toBe(true);
    expect(audit).toMatchObject({ checks: 2, falseNegatives: 1 });
    expect(inFilter.has('planted')).toBe(true);
    const logged = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 'error', id: 'planted' });
    expect(String(logged.msg)).toContain('FALSE NEGATIVE');
  });

  it('does not report an id created after its rejection (the filter has it by the time of the check)', async () => {
    const { audit } = setup(1, new Set(['late']), new Set(['late']));
    audit.sample('late');
    expect(await audit.checkOne()).toBe(false);
    expect(audit.falseNegatives).toBe(0);
  });

  it('waits for creates in flight before reading the filter: a row whose filter add is still to come is no false negative', async () => {
    const inFilter = new Set<string>();
    let endWrites: (() => void) | undefined;
    const audit = new FalseNegativeAudit({
      sampleEvery: 1,
      maxPerSecond: 5,
      exists: async () => true, // the database already has the create's row
      writesEnded: () => new Promise<void>((resolve) => (endWrites = resolve)),
      mayContain: (id) => inFilter.has(id),
      repair: (id) => inFilter.add(id),
      logger: createLogger('silent'),
    });
    audit.sample('racing');
    const checked = audit.checkOne();
    await waitForCondition(() => endWrites !== undefined);
    inFilter.add('racing'); // the create's filter add runs, then its token ends
    endWrites!();
    expect(await checked).toBe(false);
    expect(audit.falseNegatives).toBe(0);
  });

  it('skips an id the database could not check: no answer is not a false negative', async () => {
    const { audit, inFilter } = setup(1, new Set());
    audit.sample('db-down');
    expect(await audit.checkOne()).toBe(false);
    expect(audit).toMatchObject({ checks: 0, falseNegatives: 0, queued: 0 });
    expect(inFilter.has('db-down')).toBe(false);
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

async function waitForCondition(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/** Lets the checks' database answers (resolved promises) arrive. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FalseNegativeAudit on its timer', () => {
  function timed(maxPerSecond: number, sampleEvery = 1) {
    const scheduler = new ManualScheduler();
    const inFilter = new Set<string>();
    const audit = new FalseNegativeAudit({
      sampleEvery,
      maxPerSecond,
      exists: async (id) => id === 'planted',
      mayContain: (id) => inFilter.has(id),
      repair: (id) => inFilter.add(id),
      logger: createLogger('silent'),
      scheduler,
    });
    return { audit, scheduler, inFilter };
  }

  it('checks at most maxPerSecond queued ids a second, and repairs on its own', async () => {
    const { audit, scheduler, inFilter } = timed(5);
    for (let i = 0; i < 9; i++) audit.sample(`absent-${i}`);
    audit.sample('planted');
    audit.start();
    scheduler.advance(999);
    await settle();
    expect(audit.checks).toBe(4); // at 200, 400, 600, 800 ms
    scheduler.advance(1);
    await settle();
    expect(audit.checks).toBe(5);
    scheduler.advance(1000);
    await settle();
    expect(audit).toMatchObject({ checks: 10, falseNegatives: 1, queued: 0 });
    expect(inFilter.has('planted')).toBe(true);
  });

  it('stops checking once closed, and never starts when sampling is off', async () => {
    const { audit, scheduler } = timed(10);
    audit.sample('a');
    audit.sample('b');
    audit.start();
    audit.start(); // a second start adds no second timer
    expect(scheduler.pending).toBe(1);
    scheduler.advance(100);
    audit.close();
    scheduler.advance(10_000);
    await settle();
    expect(audit.checks).toBe(1);
    expect(scheduler.pending).toBe(0);
    const off = timed(10, 0);
    off.audit.start();
    expect(off.scheduler.pending).toBe(0);
  });
});
