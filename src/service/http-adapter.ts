/**
 * The HTTP side of the composition root: the status report, admin and write
 * auth and the uWS server, bound to the use cases. Listens, and pushes the
 * close that drains in-flight requests.
 *
 * The listener may open before the parts it serves (the product database was
 * unreachable at start and opening is being retried): until `parts()` returns
 * them the phase is `starting`, so only the routes that need nothing answer,
 * and /health says why it is not ready yet.
 */
import type { Config } from '../config.js';
import { RebuildInProgressError, StartingError } from '../errors.js';
import type { ActiveFilter } from '../filter/active-filter.js';
import { seedFingerprint } from '../filter/hash.js';
import { packIds } from '../filter/id-batch.js';
import { AdminAuth } from '../http/admin-auth.js';
import type { Phase } from '../http/http-api.js';
import { HttpServer } from '../http/server.js';
import type { HealthReport, RebuildStartedBody } from '../http/status-bodies.js';
import { STATUS_PAGE_HTML } from '../http/status-page.js';
import { StatusReport } from '../http/status-report.js';
import { createWriteAuth } from '../http/write-auth.js';
import type { CloserStack } from '../lifecycle/closer-stack.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/registry.js';
import type { LoadReport } from '../persistence/filter-loader.js';
import type { RedisConnection } from '../store/redis-connection.js';
import type { DatabaseHealth } from './database-health.js';
import type { Upkeep } from './upkeep.js';
import type { UseCases } from './use-cases.js';

/** What the start-up sequence changes and the HTTP side reads. */
export interface ServiceState {
  readonly startedAt: number;
  phase: Phase;
  load: LoadReport | undefined;
  /** While starting: the product database did not answer yet (opening is retried). */
  waitingForDatabase: boolean;
}

/** Everything the routes serve, once the database is open and the filter built. */
export interface ServedParts {
  readonly active: ActiveFilter;
  readonly useCases: UseCases;
  readonly upkeep: Upkeep;
  readonly report: StatusReport;
}

export interface ReportDeps {
  readonly config: Config;
  readonly state: ServiceState;
  readonly active: ActiveFilter;
  readonly redis: RedisConnection;
  readonly database: Pick<DatabaseHealth, 'healthy'>;
  readonly useCases: UseCases;
  readonly upkeep: Upkeep;
}

export function createStatusReport(d: ReportDeps): StatusReport {
  const { state, active } = d;
  return new StatusReport({
    config: d.config,
    active,
    redis: d.redis,
    database: d.database,
    snapshotter: d.useCases.snapshotter,
    rebuilder: d.upkeep.rebuilder,
    observedFpr: d.upkeep.observedFpr,
    audit: d.useCases.audit,
    // Admin-only: a u32 from SHA-256 of the seed, to tell instances' seeds apart, never the seed itself.
    seedFingerprint: seedFingerprint(active.filter.layout.seed).toString(16).padStart(8, '0'),
    startedAt: state.startedAt,
    phase: () => state.phase,
    load: () => state.load,
  });
}

export interface HttpAdapterDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly state: ServiceState;
  /** Undefined until the start-up has wired them (the phase is `starting` until then). */
  readonly parts: () => ServedParts | undefined;
  readonly closers: CloserStack;
}

export interface OpenedHttp {
  readonly port: number;
  /** Stops accepting and drains in-flight requests (safe to call again). */
  readonly close: () => Promise<void>;
}

/** Listens on config.host:config.port. */
export async function openHttp(d: HttpAdapterDeps): Promise<OpenedHttp> {
  const { config, state, metrics, logger } = d;
  // Routes that need more than `nothing` are refused while starting, so they only run once parts exist.
  const parts = (): ServedParts => {
    const p = d.parts();
    if (p === undefined) throw new StartingError();
    return p;
  };
  const http = new HttpServer({
    phase: () => state.phase,
    guard: {
      get inline() {
        return d.parts()?.useCases.guard.inline ?? config.lookupPath === 'inline';
      },
      rejects: (id) => parts().useCases.guard.rejects(id),
      localHit: (id) => parts().useCases.guard.localHit(id),
      rejectsInPool: (id) => parts().useCases.guard.rejectsInPool(id),
      resolve: (id) => parts().useCases.guard.resolve(id),
    },
    writer: {
      create: (product) => parts().useCases.writer.create(product),
      createBatch: (batch) => parts().useCases.writer.createBatch(batch),
      update: (product) => parts().useCases.writer.update(product),
      delete: (id) => parts().useCases.writer.delete(id),
    },
    checkIds: (ids) => parts().active.pool.checkPacked(packIds(ids)),
    metrics,
    logger,
    health: (): HealthReport => {
      const p = d.parts();
      if (p !== undefined) return p.report.health();
      return { status: 503, body: state.waitingForDatabase ? { status: 'starting', reason: 'database_unavailable' } : { status: 'starting' } };
    },
    bloomStats: () => parts().report.bloomStats(),
    adminAuth: new AdminAuth(config.adminToken),
    writeAuth: createWriteAuth(config.writeToken, logger),
    startRebuild: (): RebuildStartedBody => {
      const { upkeep, report } = parts();
      if (!upkeep.rebuilds.start('manual', 'POST /admin/rebuild')) throw new RebuildInProgressError();
      return { started: true, rebuild: report.rebuild() };
    },
    adminStatus: () => parts().report.adminStatus(),
    statusPage: STATUS_PAGE_HTML,
  });
  const port = await http.listen(config.host, config.port);
  const close = (): Promise<void> => http.close(config.shutdownTimeoutMs);
  d.closers.push('http listener (drain)', close);
  return { port, close };
}
