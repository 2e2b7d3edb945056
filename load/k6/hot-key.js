// Cache breakdown: thousands of clients ask for ONE id that exists but is not
// cached yet (start bloomgate with a fresh BLOOM_STATE_NAMESPACE, or pick an
// id nothing has read). The database should see it about once, not once per
// client; compare db_queries in the summary with the request count.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=2000 -e HOT_ID=SKU-00099999 load/k6/hot-key.js
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, PRODUCT_COUNT, envNumber, envString, existingId, productUrl, summaryWithStats } from './lib.js';

const VUS = envNumber('VUS', 2000);
const DURATION = envString('DURATION', '30s');
const HOT_ID = envString('HOT_ID', existingId(PRODUCT_COUNT - 1));
const P99_MS = envNumber('P99_MS', 200);
const MAX_ERROR_RATE = envNumber('MAX_ERROR_RATE', 0.001);

export const options = {
  vus: VUS,
  duration: DURATION,
  thresholds: {
    http_req_duration: [`p(99)<${P99_MS}`],
    http_req_failed: [`rate<${MAX_ERROR_RATE}`],
    checks: ['rate>0.999'],
  },
};

const url = productUrl(HOT_ID);

export default function () {
  const res = http.get(url, { tags: { name: 'GET /products/{hot-key}' } });
  check(res, { 'hot key -> 200': (r) => r.status === 200 });
}

export function handleSummary(data) {
  return summaryWithStats(data, `hot-key ${HOT_ID} on ${BASE_URL}`);
}
