/**
 * Every coded error class of src/errors.ts, constructed with dummy arguments,
 * as code -> HTTP status: what the README's error table and the OpenAPI
 * document must agree with.
 */
import * as errors from '../../src/errors.js';
import { BloomgateError } from '../../src/errors.js';

export function definedErrorCodes(): Map<string, number> {
  const codes = new Map<string, number>();
  for (const [name, value] of Object.entries(errors)) {
    if (typeof value !== 'function' || value === BloomgateError || !(value.prototype instanceof BloomgateError)) continue;
    // Cast: the classes take different arguments; each is a string or a list of strings used
    // in a message, so a one-element array stands in for any of them.
    const ErrorCtor = value as unknown as new (...args: unknown[]) => BloomgateError;
    const instance = new ErrorCtor(...Array.from({ length: ErrorCtor.length }, () => [`dummy-${name}`]));
    codes.set(instance.code, instance.status);
  }
  return codes;
}
