/**
 * bloomgate's entry point: read the configuration, start the service, and turn
 * SIGTERM/SIGINT into a graceful shutdown (drain, final snapshot, close).
 *
 * Exit codes: 0 after a clean shutdown, 2 for invalid configuration, 1 for a
 * failure at start or an uncaught error (the database stays the source of
 * truth, so a restart is always safe). Another process serving this database
 * and namespace (InstanceLockedError) exits 1 with one line on stderr, before
 * or instead of serving; losing the instance lock later exits 1 too.
 */
import { loadConfig } from './config.js';
import { ConfigError, InstanceLockedError } from './errors.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`bloomgate: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const logger = createLogger(config.logLevel);

process.on('uncaughtException', (err) => {
  logger.error('uncaught exception; exiting', { err, stack: err.stack });
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  logger.error('unhandled rejection; exiting', { err });
  process.exit(1);
});

/** Never serve alongside another process: one clear line, exit 1. */
function refuseLocked(err: InstanceLockedError): never {
  process.stderr.write(`bloomgate: ${err.message}\n`);
  process.exit(1);
}

try {
  const service = await startService(config, logger, {
    onFatal: (err) => {
      logger.error('fatal; exiting', { err: err.message });
      process.exit(1);
    },
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await service.ready;
  logger.info('ready', { port: service.port });
} catch (err) {
  if (err instanceof InstanceLockedError) refuseLocked(err);
  logger.error('failed to start', { err, stack: err instanceof Error ? err.stack : undefined });
  process.exit(1);
}
