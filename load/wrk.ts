/**
 * wrk (C, event loop per thread) as the bench's load generator: on this 2-core
 * machine autocannon saturates its own core at about 30-40k req/s when ids
 * vary per request, while wrk with a Lua script sends about 3x that (the bench
 * measures both at start and prints them). Ids vary per request through the
 * generated Lua below; the result comes back as one JSON line from done().
 *
 * @example
 *   const r = await runWrk({ url, durationS: 3, connections: 64, threads: 1, script: getIdsScript('NOPE-', 8, null) });
 *   r.rps; r.p99Us;
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface WrkOptions {
  readonly url: string;
  readonly durationS: number;
  readonly connections: number;
  readonly threads: number;
  /** Lua source: request generation only; the reporting done() is appended. */
  readonly script: string;
  /** Mean think time per connection between requests (ms), for a fixed offered load of about connections*1000/delay req/s. */
  readonly delayMs?: number;
  /** Where to write the script file. */
  readonly dir: string;
}

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

const REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;

const THREAD_IDS = `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
`;

/**
 * GET /products/<prefix><n zero-padded to digits>. With `cycle` null, n counts
 * up from a per-thread start (every id new); with a number, n cycles over
 * [0, cycle) (the same ids again and again).
 */
export function getIdsScript(prefix: string, digits: number, cycle: number | null, start = 0): string {
  const next = cycle === null ? 'n = n + 1' : `n = n + 1; if n >= ${cycle} then n = 0 end`;
  const first = cycle === null ? `${start} + tid * 100000000` : `(tid * 7919) % ${cycle ?? 1}`;
  return `${THREAD_IDS}
init = function(args)
  n = ${first}
end
request = function()
  ${next}
  return wrk.format("GET", "/products/${prefix}" .. string.format("%0${digits}d", n))
end
`;
}

/** POST <path> with the bodies in `bodiesFile` (one JSON body per line), round robin, prebuilt in init. */
export function postBodiesScript(path: string, bodiesFile: string): string {
  return `${THREAD_IDS}
init = function(args)
  reqs = {}
  for line in io.lines(${JSON.stringify(bodiesFile)}) do
    reqs[#reqs + 1] = wrk.format("POST", ${JSON.stringify(path)}, { ["Content-Type"] = "application/json" }, line)
  end
  i = tid % #reqs
end
request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
`;
}

export function wrkAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('wrk', ['--version'], (err, stdout, stderr) => resolve(err === null || `${stdout}${stderr}`.includes('wrk ')));
  });
}

let scriptCounter = 0;

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  // Uniform think time with the given mean: a constant one would fire every connection's timer on the same
  // millisecond tick and turn the offered load into bursts of `connections` requests.
  const delay =
    options.delayMs === undefined ? '' : `\ndelay = function() return math.random(1, ${Math.max(1, 2 * options.delayMs - 1)}) end\n`;
  const file = join(options.dir, `wrk-${process.pid}-${scriptCounter++}.lua`);
  await writeFile(file, options.script + delay + REPORT);
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    '--timeout',
    '5s',
    '-s',
    file,
    options.url,
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err !== null) reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${errOut}`));
      else resolve(out);
    });
  });
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (line === undefined) throw new Error(`wrk printed no result:\n${stdout}`);
  const raw = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  const num = (key: string): number => raw[key] ?? 0;
  const durationS = num('duration_us') / 1e6;
  return {
    requests: num('requests'),
    durationS,
    rps: num('requests') / durationS,
    p50Us: num('p50_us'),
    p99Us: num('p99_us'),
    maxUs: num('max_us'),
    errors: { connect: num('connect'), read: num('read'), write: num('write'), status: num('status'), timeout: num('timeout') },
  };
}
