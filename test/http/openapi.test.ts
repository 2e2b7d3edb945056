/**
 * The OpenAPI document: built from the route table (a route without an entry
 * fails here), kept in the repository as src/http/openapi.json (stale: this
 * fails; `UPDATE_OPENAPI=1` rewrites it), its schemas compile under JSON Schema
 * 2020-12, and its error codes are the ones src/errors.ts defines. Real answers
 * are validated against it in test/integration/every-answer-matches-openapi.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, buildOpenApi, openApiPath, type JsonObject } from '../../src/http/openapi.js';
import { ROUTES, type Route } from '../../src/http/routes.js';
import { definedErrorCodes } from '../helpers/error-codes.js';
import { OpenApiValidator } from '../helpers/openapi-validator.js';

const FILE = new URL('../../src/http/openapi.json', import.meta.url);
const doc = buildOpenApi(ROUTES);
const serialised = JSON.stringify(doc, null, 2) + '\n';

describe('OpenAPI document', () => {
  it('matches src/http/openapi.json (UPDATE_OPENAPI=1 rewrites the file)', () => {
    if (process.env['UPDATE_OPENAPI'] === '1') writeFileSync(FILE, serialised);
    expect(readFileSync(FILE, 'utf8'), 'src/http/openapi.json is stale: run UPDATE_OPENAPI=1 npx vitest run --config test/vitest.config.ts test/http/openapi.test.ts').toBe(serialised);
  });

  it('has one operation per route row, with the security its auth says', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(ROUTES.map((r) => `${r.method} ${openApiPath(r.pattern)}`).sort());
    for (const route of ROUTES) {
      const op = doc.paths[openApiPath(route.pattern)]![route.method.toLowerCase()]!;
      const expected = { none: undefined, write: [{ writeToken: [] }], admin: [{ adminToken: [] }] }[route.auth];
      expect(op['security'], route.label).toEqual(expected);
      if (route.auth === 'write') expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
  });

  it('refuses a route without documentation', () => {
    const extra: Route = { method: 'GET', pattern: '/undocumented', label: 'GET /undocumented', needs: 'nothing', auth: 'none', handle: () => ({ status: 200, body: '' }) };
    expect(() => buildOpenApi([...ROUTES, extra])).toThrow('routes without documentation: [GET /undocumented]');
  });

  it('documents every error answer with the shared error shape', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          // GET /health's 503 is its own report, not an error.
          if (Number(status) < 400 || path === '/health') continue;
          const content = response['content'] as { 'application/json': { schema: JsonObject } };
          const schema = content['application/json'].schema;
          // One level of $ref (the lookup's ProductNotFound extends the shared shape).
          const named = typeof schema['$ref'] === 'string' ? doc.components.schemas[schema['$ref'].split('/').pop()!] : undefined;
          expect(JSON.stringify(named ?? schema), `${method} ${path} ${status}`).toContain('"$ref":"#/components/schemas/Error"');
        }
        expect(op.responses['500'], `${method} ${path}`).toBeDefined();
      }
    }
  });

  it('compiles every schema under JSON Schema 2020-12 and validates its own examples', () => {
    const validator = new OpenApiValidator(doc);
    const ok = (method: string, path: string, status: number, body: unknown) =>
      validator.check(method, path, status, 'application/json', JSON.stringify(body)).problems;
    expect(ok('GET', '/products/x', 404, { error: 'not_found', message: 'no such product', id: 'x', source: 'bloom_filter' })).toEqual([]);
    expect(ok('GET', '/products/x', 404, { error: 'not_found', message: 'no such product' })).not.toEqual([]);
    expect(ok('POST', '/products', 400, { error: 'invalid_body', message: 'm', details: ['a'] })).toEqual([]);
    expect(ok('POST', '/products', 400, { error: 'already_exists', message: 'm' })).not.toEqual([]);
    expect(ok('POST', '/products', 401, { error: 'write_unauthorized', message: 'm' })).toEqual([]);
    expect(ok('POST', '/products', 401, { error: 'unauthorized', message: 'm' })).not.toEqual([]);
    expect(ok('PUT', '/health', 405, { error: 'method_not_allowed', message: 'm' })).toEqual([]);
    expect(ok('GET', '/nowhere', 404, { error: 'route_not_found', message: 'm' })).toEqual([]);
    expect(ok('GET', '/stats', 418, {})).not.toEqual([]);
  });

  it('lists each error code with the status src/errors.ts gives it', () => {
    const defined = definedErrorCodes();
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(defined.get(code), code).toBe(status);
    // Start-up only: never an HTTP answer.
    const startUpOnly = ['config_invalid', 'instance_locked'];
    expect([...defined.keys()].filter((c) => !(c in ERROR_STATUS) && !startUpOnly.includes(c))).toEqual([]);
  });
});
