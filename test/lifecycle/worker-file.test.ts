import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runningFromSources, workerFile } from '../../src/lifecycle/worker-file.js';

const WORKERS_DIR = fileURLToPath(new URL('../../workers/', import.meta.url));

describe('workerFile', () => {
  // vitest runs the sources; the compiled half is test/integration/compiled-build-serves.test.ts.
  it('resolves the .ts worker with tsx when running from sources', () => {
    expect(runningFromSources).toBe(true);
    const worker = workerFile('filter-worker');
    expect(worker.filename).toBe(`${WORKERS_DIR}filter-worker.ts`);
    expect(existsSync(worker.filename)).toBe(true);
    expect(worker.execArgv).toEqual(['--import', 'tsx']);
  });

  it('returns a frozen answer', () => {
    const worker = workerFile('filter-worker');
    expect(Object.isFrozen(worker)).toBe(true);
    expect(Object.isFrozen(worker.execArgv)).toBe(true);
  });

  it.each(['', 'filter-worker.ts', '../src/index', 'workers/filter-worker', 'Filter-Worker'])('refuses the name %j', (name) => {
    expect(() => workerFile(name)).toThrow(
      new TypeError(`worker name must be a kebab-case file name without extension, got ${JSON.stringify(name)}`),
    );
  });
});
