/**
 * What a product id may be: 1 to {@link MAX_ID_BYTES} bytes of well-formed
 * UTF-8 with no control characters. The file import and the HTTP layer share
 * this one rule, so an id accepted by one is never refused by the other.
 *
 * @example
 *   idProblem('SKU-00000042');   // null: valid
 *   idProblem('');               // 'id is empty'
 *   idProblem('a\tb');           // 'id contains control character U+0009 at index 1'
 */

/** The longest id, in UTF-8 bytes (not characters: 'é' counts 2). */
export const MAX_ID_BYTES = 256;

// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(unit: number): string {
  return `U+${unit.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Null when `id` is a valid product id, else a message saying what is wrong with it. */
export function idProblem(id: string): string | null {
  if (id.length === 0) return 'id is empty';
  // A lone surrogate cannot be encoded as UTF-8 (it would silently become U+FFFD),
  // so check it before measuring the byte length.
  const lone = LONE_SURROGATE.exec(id);
  if (lone !== null) return `id contains a lone surrogate ${codePoint(id.charCodeAt(lone.index))} at index ${lone.index}`;
  const control = CONTROL.exec(id);
  if (control !== null) return `id contains control character ${codePoint(id.charCodeAt(control.index))} at index ${control.index}`;
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (id.length * 3 > MAX_ID_BYTES) {
    const bytes = Buffer.byteLength(id, 'utf8');
    if (bytes > MAX_ID_BYTES) return `id is ${bytes} bytes in UTF-8; the limit is ${MAX_ID_BYTES}`;
  }
  return null;
}
