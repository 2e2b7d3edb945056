/**
 * Reading a request body from uWebSockets.js: chunks arrive in `onData` as
 * ArrayBuffers that are only valid during the callback, so each is copied.
 * The size limit is enforced from Content-Length up front and again while
 * reading, so a lying client cannot make us buffer more than the limit.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { InvalidBodyError, PayloadTooLargeError } from '../errors.js';

/**
 * Resolves with the whole body. Must be called synchronously in the handler
 * (uWS drops data that arrives before onData is registered). Never resolves if
 * the request is aborted (the caller's onAborted handles that).
 */
export function readBody(res: HttpResponse, contentLength: string, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (contentLength !== '' && Number(contentLength) > limitBytes) {
      reject(new PayloadTooLargeError(`request body exceeds ${limitBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) return;
      size += chunk.byteLength;
      if (size > limitBytes) {
        failed = true;
        reject(new PayloadTooLargeError(`request body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // copy: uWS reuses the chunk's memory
      if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}

/** Parses JSON, turning a syntax error into a 400 that says where. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new InvalidBodyError('request body is empty; expected JSON');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidBodyError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}
