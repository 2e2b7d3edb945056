/**
 * Timers behind a two-method interface, so a component's timed work can be
 * driven by a test (`ManualScheduler` in test/helpers) instead of waiting in
 * real time. The real timers never keep the process alive (`unref`): each
 * owner's close() decides what must still run (the final snapshot, say).
 *
 * @example
 *   const cancel = scheduler.every(200, () => audit.checkOne());
 *   cancel();
 */
export type Cancel = () => void;

export interface Scheduler {
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Cancel;
  /** Calls `fn` once after `ms`, unless cancelled first. */
  after(ms: number, fn: () => void): Cancel;
}

export const realScheduler: Scheduler = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
