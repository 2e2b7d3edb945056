/**
 * Writing responses with uWebSockets.js, and the one place where errors become
 * the JSON error shape `{"error": code, "message": text}`.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { BloomgateError, InternalError, InvalidBodyError, MethodNotAllowedError } from '../errors.js';

const STATUS_LINES: Readonly<Record<number, string>> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} Status`;
}

/** Writes a complete JSON response. After an await, call inside `res.cork()`. */
export function writeJson(res: HttpResponse, status: number, body: string, closeConnection = false): void {
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json').end(body, closeConnection);
}

/** The JSON body for an error; unknown errors are reported as internal without their message. */
export function errorJson(err: unknown): { status: number; body: string; allow?: string } {
  const e = err instanceof BloomgateError ? err : new InternalError();
  const body: Record<string, unknown> = { error: e.code, message: e.message };
  if (e instanceof InvalidBodyError && e.details.length > 0) body.details = e.details;
  return {
    status: e.status,
    body: JSON.stringify(body),
    ...(e instanceof MethodNotAllowedError ? { allow: e.allowed.join(', ') } : {}),
  };
}

export function writeError(res: HttpResponse, err: unknown, closeConnection = false): number {
  const { status, body, allow } = errorJson(err);
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json');
  if (allow !== undefined) res.writeHeader('Allow', allow);
  res.end(body, closeConnection);
  return status;
}
