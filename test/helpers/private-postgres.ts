/**
 * A private PostgreSQL cluster for a test run, for machines where no server
 * answers on 127.0.0.1:5432: `initdb` into a temporary directory, `pg_ctl start`
 * on a free port (trust auth, user `postgres`, fsync off: the data is thrown
 * away), `pg_ctl stop -m immediate` and the directory removed at the end.
 *
 * `initdb` refuses to run as root, so as root both commands run as the
 * `postgres` OS user (`runuser -u postgres --`), which owns the directory.
 *
 * @example
 *   const cluster = await startPrivatePostgres();   // cluster.url: postgres://postgres@127.0.0.1:<port>/postgres
 *   await cluster.stop();
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './find-binary.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

const START_TIMEOUT_S = 30;
const SERVER_USER = 'postgres';

export interface PrivatePostgres {
  /** Maintenance database URL of the superuser `postgres`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and removes its data directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin. */
function serverBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((major) => join('/usr/lib/postgresql', major, 'bin'));
  } catch {
    return [];
  }
}

/** `initdb` and `pg_ctl`, or null when PostgreSQL is not installed. */
export function findPostgresBinaries(): { initdb: string; pgCtl: string } | null {
  const dirs = serverBinDirs();
  const initdb = findBinary('initdb', dirs);
  const pgCtl = findBinary('pg_ctl', dirs);
  return initdb !== null && pgCtl !== null ? { initdb, pgCtl } : null;
}

/** The numeric uid/gid of `user` from /etc/passwd, via `id` (no native lookup in Node). */
async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const binaries = findPostgresBinaries();
  if (binaries === null) throw new Error('initdb/pg_ctl not found: install PostgreSQL (Debian: apt-get install postgresql)');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'bloomgate-pg-'));
  const dataDir = join(dir, 'data');
  if (asRoot) {
    const { uid, gid } = await idsOf(SERVER_USER);
    chownSync(dir, uid, gid);
  }
  const exec = (file: string, args: string[]): Promise<unknown> =>
    asRoot ? run('runuser', ['-u', SERVER_USER, '--', file, ...args]) : run(file, args);

  try {
    await exec(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync']);
    // Another process may take the port between freePort() and the server's bind; try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
      try {
        await exec(binaries.pgCtl, ['-D', dataDir, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', String(START_TIMEOUT_S), 'start']);
      } catch (err) {
        lastError = err;
        continue;
      }
      let stopped = false;
      // If the run ends without stop() (a crash, Ctrl-C), stop the server anyway: it must not outlive the run.
      const stopAtExit = (): void => {
        if (stopped) return;
        try {
          const args = ['-D', dataDir, '-m', 'immediate', 'stop'];
          if (asRoot) execFileSync('runuser', ['-u', SERVER_USER, '--', binaries.pgCtl, ...args], { stdio: 'ignore' });
          else execFileSync(binaries.pgCtl, args, { stdio: 'ignore' });
          rmSync(dir, { recursive: true, force: true });
        } catch {
          // best effort at exit
        }
      };
      process.once('exit', stopAtExit);
      return {
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        port,
        async stop() {
          if (stopped) return;
          stopped = true;
          process.off('exit', stopAtExit);
          await exec(binaries.pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    throw lastError;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
