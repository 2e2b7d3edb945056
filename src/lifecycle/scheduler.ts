/**
 * Periodic timers behind a one-method interface, so a component's periodic work can be
 * driven by a test (`ManualScheduler` in test/helpers) instead of waiting in
 * real time. The real one never keeps the process alive (`unref`).
 *
 * @example
 *   const cancel = scheduler.every(200, () => audit.checkOne());
 *   cancel();
 */
export type Cancel = () => void;

export interface Scheduler {
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Cancel;
}

export const realScheduler: Scheduler = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};
