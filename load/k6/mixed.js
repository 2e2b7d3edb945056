// Production-like traffic under a flood: mostly absent ids, some hot and some
// cold existing ids, and a trickle of creates at a fixed rate.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=100 -e ABSENT_PCT=90 -e WRITE_RATE=20 load/k6/mixed.js
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import {
  BASE_URL,
  JSON_PARAMS,
  PRODUCT_COUNT,
  envNumber,
  envString,
  existingId,
  productUrl,
  randomAbsentId,
  randomExistingId,
  summaryWithStats,
} from './lib.js';

const VUS = envNumber('VUS', 100);
const DURATION = envString('DURATION', '30s');
/** Percent of reads for absent ids; HOT_PCT for the HOT_IDS first ids; the rest are cold existing ids. */
const ABSENT_PCT = envNumber('ABSENT_PCT', 90);
const HOT_PCT = envNumber('HOT_PCT', 7);
const HOT_IDS = envNumber('HOT_IDS', 100);
/** Creates per second (POST /products), on their own VUs. */
const WRITE_RATE = envNumber('WRITE_RATE', 20);
const WRITE_PREFIX = envString('WRITE_PREFIX', `K6-${Date.now()}-`);
const P99_MS = envNumber('P99_MS', 100);
const WRITE_P99_MS = envNumber('WRITE_P99_MS', 250);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0.001);

export const options = {
  scenarios: {
    reads: { executor: 'constant-vus', exec: 'reads', vus: VUS, duration: DURATION },
    writes: {
      executor: 'constant-arrival-rate',
      exec: 'writes',
      rate: WRITE_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(2, Math.ceil(WRITE_RATE / 10)),
      maxVUs: Math.max(10, WRITE_RATE),
    },
  },
  thresholds: {
    'http_req_duration{scenario:reads}': [`p(99)<${P99_MS}`],
    'http_req_duration{scenario:writes}': [`p(99)<${WRITE_P99_MS}`],
    http_req_failed: [`rate<${MAX_ERROR_RATE}`],
    checks: ['rate>0.999'],
  },
};

export function reads() {
  const roll = Math.random() * 100;
  if (roll < ABSENT_PCT) {
    const res = http.get(productUrl(randomAbsentId()), { tags: { name: 'GET /products/{absent}' } });
    check(res, { 'absent id -> 404': (r) => r.status === 404 });
  } else if (roll < ABSENT_PCT + HOT_PCT) {
    const res = http.get(productUrl(existingId(Math.floor(Math.random() * Math.min(HOT_IDS, PRODUCT_COUNT)))), {
      tags: { name: 'GET /products/{hot}' },
    });
    check(res, { 'hot id -> 200': (r) => r.status === 200 });
  } else {
    const res = http.get(productUrl(randomExistingId(HOT_IDS)), { tags: { name: 'GET /products/{cold}' } });
    check(res, { 'cold id -> 200': (r) => r.status === 200 });
  }
}

export function writes() {
  const id = `${WRITE_PREFIX}${exec.scenario.iterationInTest}`;
  const res = http.post(`${BASE_URL}/products`, JSON.stringify({ id, name: `k6 ${id}`, price: 9.5 }), {
    ...JSON_PARAMS,
    tags: { name: 'POST /products' },
  });
  check(res, { 'create -> 201': (r) => r.status === 201 });
}

export function handleSummary(data) {
  return summaryWithStats(data, `mixed on ${BASE_URL}`);
}
