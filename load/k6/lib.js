// Shared by the k6 scenarios in this folder: knobs, id helpers and the
// end-of-test summary that reads bloomgate's /stats.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 load/k6/attack.js
import http from 'k6/http';
import { textSummary } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js';

export function envString(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envNumber(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name}=${JSON.stringify(value)} must be a number`);
  return n;
}

export const BASE_URL = envString('BASE_URL', 'http://127.0.0.1:8000');
/** Existing ids are ID_PREFIX + a zero-padded index below PRODUCT_COUNT (load/products-file.ts writes SKU-%08d). */
export const ID_PREFIX = envString('ID_PREFIX', 'SKU-');
export const ID_DIGITS = envNumber('ID_DIGITS', 8);
export const PRODUCT_COUNT = envNumber('PRODUCT_COUNT', 100000);
/** Absent ids use a prefix that is never in the products file. */
export const ABSENT_PREFIX = envString('ABSENT_PREFIX', 'NOPE-');

export const JSON_PARAMS = { headers: { 'Content-Type': 'application/json' } };

// 404 is an answer here, not a failure: without this, every rejection would count in http_req_failed.
http.setResponseCallback(http.expectedStatuses(200, 201, 404, 409));

function pad(n) {
  let s = String(n);
  while (s.length < ID_DIGITS) s = '0' + s;
  return s;
}

export function existingId(i) {
  return ID_PREFIX + pad(i);
}

export function randomExistingId(from = 0) {
  return existingId(from + Math.floor(Math.random() * Math.max(1, PRODUCT_COUNT - from)));
}

export function randomAbsentId() {
  return ABSENT_PREFIX + pad(Math.floor(Math.random() * 1e9));
}

export function productUrl(id) {
  return `${BASE_URL}/products/${encodeURIComponent(id)}`;
}

/** Reads /stats once the test is over and appends the database round trips avoided to k6's summary. */
export function summaryWithStats(data, title) {
  let stats = null;
  const res = http.get(`${BASE_URL}/stats`, { timeout: '5s' });
  if (res.status === 200) {
    try {
      stats = res.json();
    } catch (e) {
      stats = null;
    }
  }
  const lines = [`\n${title}`];
  if (stats === null) {
    lines.push(`  /stats unavailable (status ${res.status})`);
  } else {
    lines.push(`  database round trips avoided: ${stats.db_roundtrips_avoided} (reduction ${stats.db_roundtrip_reduction})`);
    lines.push(`  db_queries: ${stats.db_queries}, lookups: ${stats.lookups}`);
    lines.push(
      `  bloom_rejected: ${stats.bloom_rejected}, negative_cache_hit: ${stats.negative_cache_hit}, cache_hit: ${stats.cache_hit}, ` +
        `db_hit: ${stats.db_hit}, db_miss: ${stats.db_miss}`,
    );
  }
  const out = {
    stdout: textSummary(data, { indent: ' ', enableColors: true }) + lines.join('\n') + '\n',
  };
  const file = envString('SUMMARY_JSON', '');
  if (file !== '') out[file] = JSON.stringify({ k6: data, stats }, null, 2);
  return out;
}
