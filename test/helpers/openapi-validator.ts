/**
 * Checks a real HTTP answer against the OpenAPI document (src/http/openapi.ts)
 * with ajv (JSON Schema draft 2020-12, OpenAPI 3.1's dialect): the path and
 * method must be documented (or the answer must be the documented 404/405 of
 * an unmatched request), the status must be listed, the media type must match
 * and a JSON body must validate against the listed schema.
 *
 * @example
 *   const validator = new OpenApiValidator(buildOpenApi(ROUTES));
 *   validator.check('GET', '/products/x', res.status, res.headers.get('content-type'), text); // [] when it matches
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import type { JsonObject, OpenApiDocument } from '../../src/http/openapi.js';

const DOC_ID = 'https://bloomgate.invalid/openapi.json';

/** A JSON pointer segment as a URI fragment part. */
function pointer(segments: readonly string[]): string {
  return segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

export interface Checked {
  /** `METHOD /template` of the operation, or `unmatched`. */
  readonly operation: string;
  readonly status: number;
  readonly problems: readonly string[];
}

export class OpenApiValidator {
  readonly #doc: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #templates: readonly { readonly template: string; readonly regex: RegExp }[];

  constructor(doc: OpenApiDocument) {
    this.#doc = doc;
    // strict: false, because the document's non-schema keywords (paths, responses, ...) sit around the schemas.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(this.#ajv);
    this.#ajv.addSchema(doc, DOC_ID);
    // Static paths before templated ones, as the server matches them.
    this.#templates = Object.keys(doc.paths)
      .sort((a, b) => Number(a.includes('{')) - Number(b.includes('{')))
      .map((template) => ({ template, regex: new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.') + '$') }));
  }

  /** Problems with the answer (empty when it matches the document). */
  check(method: string, path: string, status: number, contentType: string | null, body: string): Checked {
    const template = this.#templates.find((t) => t.regex.test(path.split('?')[0]!))?.template;
    const op = template === undefined ? undefined : this.#doc.paths[template]![method.toLowerCase()];
    if (template === undefined || op === undefined) {
      const name = template === undefined ? 'RouteNotFound' : 'MethodNotAllowed';
      const expected = template === undefined ? 404 : 405;
      const problems = status === expected ? this.#body(['components', 'responses', name], this.#doc.components.responses[name]!, contentType, body) : [`unmatched ${method} ${path} answered ${status}, documented ${expected}`];
      return { operation: 'unmatched', status, problems };
    }
    const operation = `${method.toUpperCase()} ${template}`;
    const response = op.responses[String(status)];
    if (response === undefined) return { operation, status, problems: [`${operation}: status ${status} is not documented (body ${body.slice(0, 200)})`] };
    return { operation, status, problems: this.#body(['paths', template, method.toLowerCase(), 'responses', String(status)], response, contentType, body) };
  }

  #body(at: readonly string[], response: JsonObject, contentType: string | null, body: string): string[] {
    const content = response['content'] as JsonObject | undefined;
    if (content === undefined) return body === '' ? [] : [`${at.join(' ')}: documented without a body, answered ${body.slice(0, 200)}`];
    const mediaType = (contentType ?? '').split(';')[0]!.trim();
    if (content[mediaType] === undefined) return [`${at.join(' ')}: media type ${mediaType} is not documented (${Object.keys(content).join(', ')})`];
    // Text and HTML bodies: the media type is the contract.
    if (mediaType !== 'application/json') return [];
    const key = pointer([...at, 'content', mediaType, 'schema']);
    let validate = this.#compiled.get(key);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: `${DOC_ID}#/${key}` });
      this.#compiled.set(key, validate);
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${at.join(' ')}: body is not JSON: ${body.slice(0, 200)}`];
    }
    if (validate(value)) return [];
    return [`${at.join(' ')}: ${this.#ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`];
  }
}
