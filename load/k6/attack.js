// The penetration flood: every request asks for a random id that does not
// exist. Almost all must be rejected by the Bloom filter, never reaching Redis
// or the database.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=200 -e DURATION=30s load/k6/attack.js
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import { BASE_URL, envNumber, envString, productUrl, randomAbsentId, summaryWithStats } from './lib.js';

const VUS = envNumber('VUS', 200);
const DURATION = envString('DURATION', '30s');
const P99_MS = envNumber('P99_MS', 50);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0.001);
/** At BLOOM_FPR=0.01 about 1% of absent ids pass the filter and are answered from the negative cache or the database. */
const MIN_FILTER_REJECT_RATE = envNumber('MIN_FILTER_REJECT_RATE', 0.97);

const rejectedByFilter = new Rate('rejected_by_filter');

export const options = {
  vus: VUS,
  duration: DURATION,
  thresholds: {
    http_req_duration: [`p(99)<${P99_MS}`],
    http_req_failed: [`rate<${MAX_ERROR_RATE}`],
    rejected_by_filter: [`rate>${MIN_FILTER_REJECT_RATE}`],
    checks: ['rate>0.999'],
  },
};

export default function () {
  const res = http.get(productUrl(randomAbsentId()), { tags: { name: 'GET /products/{absent}' } });
  check(res, { 'absent id -> 404': (r) => r.status === 404 });
  rejectedByFilter.add(res.status === 404 && res.json('source') === 'bloom_filter');
}

export function handleSummary(data) {
  return summaryWithStats(data, `attack on ${BASE_URL}`);
}
