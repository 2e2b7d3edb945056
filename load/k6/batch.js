// High-throughput clients: POST /bloom/check with BATCH_SIZE ids per request
// (half existing, half absent). ids_checked's rate in the summary is ids/s.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=16 -e BATCH_SIZE=1000 load/k6/batch.js
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { BASE_URL, JSON_PARAMS, envNumber, envString, randomAbsentId, randomExistingId, summaryWithStats } from './lib.js';

const VUS = envNumber('VUS', 16);
const DURATION = envString('DURATION', '30s');
const BATCH_SIZE = envNumber('BATCH_SIZE', 1000);
/** Distinct bodies per VU, built in the init context so the VUs spend their time sending. */
const BODIES = envNumber('BODIES', 8);
const P99_MS = envNumber('P99_MS', 100);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0.001);

const idsChecked = new Counter('ids_checked');

export const options = {
  vus: VUS,
  duration: DURATION,
  thresholds: {
    http_req_duration: [`p(99)<${P99_MS}`],
    http_req_failed: [`rate<${MAX_ERROR_RATE}`],
    checks: ['rate>0.999'],
  },
};

const bodies = [];
for (let b = 0; b < BODIES; b++) {
  const ids = [];
  for (let i = 0; i < BATCH_SIZE; i++) ids.push(i % 2 === 0 ? randomExistingId() : randomAbsentId());
  bodies.push(JSON.stringify({ ids }));
}

export default function () {
  const body = bodies[Math.floor(Math.random() * bodies.length)];
  const res = http.post(`${BASE_URL}/bloom/check`, body, { ...JSON_PARAMS, tags: { name: 'POST /bloom/check' } });
  const ok = check(res, {
    'check -> 200': (r) => r.status === 200,
    'one result per id': (r) => r.status === 200 && r.json('results.#') === BATCH_SIZE,
  });
  if (ok) idsChecked.add(BATCH_SIZE);
}

export function handleSummary(data) {
  return summaryWithStats(data, `batch of ${BATCH_SIZE} on ${BASE_URL}`);
}
