/**
 * Where a worker thread's file is, and how to start it, for the code that is
 * running now: the compiled build or the TypeScript sources.
 *
 * Workers live in `workers/` beside `src/`, in the sources and in the build
 * alike (`dist/src/`, `dist/workers/`; the build keeps the root layout). This
 * module decides by its own file name: `worker-file.js` means the compiled
 * build, so the worker is `workers/<name>.js` started with no loader;
 * `worker-file.ts` means the sources run under a TypeScript loader (vitest,
 * `npm run dev`), so the worker is `workers/<name>.ts` started with
 * `--import tsx`, because a worker thread does not inherit the loader hooks.
 *
 * @example
 *   const worker = workerFile('filter-worker');
 *   new Piscina({ filename: worker.filename, execArgv: [...worker.execArgv] });
 *   // compiled: { filename: '/app/dist/workers/filter-worker.js', execArgv: [] }
 *   // sources:  { filename: '/app/workers/filter-worker.ts', execArgv: ['--import', 'tsx'] }
 */
import { fileURLToPath } from 'node:url';

export interface WorkerFile {
  /** Absolute path of the worker's file. */
  readonly filename: string;
  /** The Node options the worker thread needs: a TypeScript loader for sources, none when compiled. */
  readonly execArgv: readonly string[];
}

/** True when this module was loaded from TypeScript sources (not from the compiled build). */
export const runningFromSources: boolean = import.meta.url.endsWith('.ts');

const kWorkerName = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * The file and Node options for the worker named `name` (kebab-case, no
 * extension: `'filter-worker'` for `workers/filter-worker.ts`). Throws a
 * TypeError for a name that is not a bare kebab-case file name.
 */
export function workerFile(name: string): WorkerFile {
  if (!kWorkerName.test(name)) {
    throw new TypeError(`worker name must be a kebab-case file name without extension, got ${JSON.stringify(name)}`);
  }
  const extension = runningFromSources ? 'ts' : 'js';
  return Object.freeze({
    filename: fileURLToPath(new URL(`../../workers/${name}.${extension}`, import.meta.url)),
    execArgv: Object.freeze(runningFromSources ? ['--import', 'tsx'] : []),
  });
}
