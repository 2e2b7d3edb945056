/**
 * Creates/s through POST /products/batch against a running bloomgate: CONCURRENCY batches of SIZE
 * new products in flight for SECONDS; prints creates/s and batch latency p50/p99.
 *
 *   node load/batch-create-bench.mjs http://127.0.0.1:8000 [SECONDS=5] [CONCURRENCY=4] [SIZE=1000] [TAG=B]
 */
const [url, seconds = '5', concurrency = '4', size = '1000', tag = 'B'] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;
let created = 0, batches = 0, errors = 0, seq = 0;
const lat = [];
async function lane(l) {
  while (Date.now() < deadline) {
    const products = Array.from({ length: Number(size) }, () => ({ id: `${tag}-${l}-${seq++}`, name: 'bench', price: 1 }));
    const t = performance.now();
    const res = await fetch(`${url}/products/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ products }) });
    const body = await res.json();
    lat.push(performance.now() - t);
    if (res.status !== 200) { errors++; continue; }
    created += body.created; batches++;
  }
}
const start = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, (_, l) => lane(l)));
const s = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);
console.log(JSON.stringify({ createdPerS: Math.round(created / s), batches, errors, p50ms: +lat[Math.floor(lat.length / 2)].toFixed(1), p99ms: +lat[Math.floor(lat.length * 0.99)].toFixed(1) }));
