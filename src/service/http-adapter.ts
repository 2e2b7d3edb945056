/**
 * The HTTP side of the composition root: the status report, admin auth and the
 * uWS server, bound to the use cases. Listens, and pushes the close that
 * drains in-flight requests.
 */
import type { Config } from '../config.js';
import { RebuildInProgressError } from '../errors.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import { seedFingerprint } from '../filter/hash.js';
import { packIds } from '../filter/id-batch.js';
import { AdminAuth } from '../http/admin-auth.js';
import type { Phase } from '../http/http-api.js';
import { HttpServer } from '../http/server.js';
import type { RebuildStartedBody } from '../http/status-bodies.js';
import { STATUS_PAGE_HTML } from '../http/status-page.js';
import { StatusReport } from '../http/status-report.js';
import { createWriteAuth } from '../http/write-auth.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { LoadReport } from '../persistence/filter-loader.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { Upkeep } from './upkeep.js';
import type { UseCases } from './use-cases.js';

/** What the start-up sequence changes and the HTTP side reads. */
export interface ServiceState {
  readonly startedAt: number;
  phase: Phase;
  load: LoadReport | undefined;
}

export interface HttpAdapterDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServiceState;
  readonly active: ActiveFilter;
  readonly redis: RedisConnection;
  readonly useCases: UseCases;
  readonly upkeep: Upkeep;
  readonly closers: CloserStack;
}

/** Listens on config.host:config.port; resolves with the bound port. */
export async function openHttp(d: HttpAdapterDeps): Promise<number> {
  const { config, state, active, metrics, logger } = d;
  const { guard, writer, snapshotter, audit } = d.useCases;
  const { rebuilder, observedFpr } = d.upkeep;
  const report = new StatusReport({
    config,
    active,
    redis: d.redis,
    snapshotter,
    rebuilder,
    observedFpr,
    audit,
    // Admin-only: a u32 from SHA-256 of the seed, to tell instances' seeds apart, never the seed itself.
    seedFingerprint: seedFingerprint(active.filter.layout.seed).toString(16).padStart(8, '0'),
    startedAt: state.startedAt,
    phase: () => state.phase,
    load: () => state.load,
  });
  const http = new HttpServer({
    phase: () => state.phase,
    guard,
    writer,
    checkIds: (ids) => active.pool.checkPacked(packIds(ids)),
    metrics,
    logger,
    health: () => report.health(),
    bloomStats: () => report.bloomStats(),
    adminAuth: new AdminAuth(config.adminToken),
    writeAuth: createWriteAuth(config.writeToken, logger),
    startRebuild: (): RebuildStartedBody => {
      if (!rebuilder.start('manual', 'POST /admin/rebuild')) throw new RebuildInProgressError();
      return { started: true, rebuild: report.rebuild() };
    },
    adminStatus: () => report.adminStatus(),
    statusPage: STATUS_PAGE_HTML,
  });
  const port = await http.listen(config.host, config.port);
  d.closers.push('http listener (drain)', () => http.close(config.shutdownTimeoutMs));
  return port;
}
