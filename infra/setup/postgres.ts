import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, isPortOpen, run } from '../stack/process';

const log = (msg: string) => process.stderr.write(`[postgres] ${msg}\n`);

const isRoot = () => process.getuid?.() === 0;

/** Directory holding initdb/pg_ctl/postgres: PG_BINDIR, Debian's layout (newest version), or PATH. */
export function findPgBinDir(): string | undefined {
  const explicit = process.env.PG_BINDIR;
  if (explicit && fs.existsSync(path.join(explicit, 'pg_ctl'))) return explicit;
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && fs.existsSync(path.join(dir, 'pg_ctl')) && fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

/** Installs Debian's server package when we are root; otherwise says exactly what to do. */
export async function ensurePgBinaries(): Promise<string> {
  const found = findPgBinDir();
  if (found) return found;
  if (!isRoot()) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them with ' +
        '`sudo apt-get install postgresql` (Debian/Ubuntu), or set PG_BINDIR to their directory, ' +
        'or set DATABASE_URL to use an existing server.',
    );
  }
  log('installing Debian package postgresql (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { env });
  const after = findPgBinDir();
  if (!after) throw new Error('apt-get installed postgresql but initdb/pg_ctl are still not found; set PG_BINDIR');
  return after;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /** True when this call started the server (and so the caller owns stopping it). */
  startedHere: boolean;
  stop(): Promise<void>;
}

/**
 * A project-local cluster under `<home>/postgres`, trust auth on loopback only, on a free port
 * remembered between starts. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` system user (created by Debian's package).
 */
export async function startEmbeddedPostgres(home: string, opts: { database?: string } = {}): Promise<EmbeddedPostgres> {
  const bin = await ensurePgBinaries();
  const base = path.join(home, 'postgres');
  fs.mkdirSync(base, { recursive: true });
  const dataDir = resolveDataDir(base);
  const runDir = path.join(dataDir, '..', 'run');
  const asUser = isRoot() ? 'postgres' : undefined;
  const exec = (tool: string, args: string[]) =>
    asUser ? run('runuser', ['-u', asUser, '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initdb ${dataDir}`);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(runDir, { recursive: true });
    if (asUser) await run('chown', ['-R', `${asUser}:`, path.dirname(dataDir)]);
    await exec('initdb', ['-D', dataDir, '-U', 'sluice', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions']);
  }
  const portFile = path.join(base, 'port');
  const database = opts.database ?? 'sluice';
  let port = Number(fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : 0);
  const running = await isRunning(exec, dataDir);
  let startedHere = false;
  if (!running) {
    if (!port || (await isPortOpen(port))) port = await freePort();
    fs.writeFileSync(portFile, String(port));
    await exec('pg_ctl', [
      '-D', dataDir,
      '-l', path.join(dataDir, '..', 'postgres.log'),
      '-o', `-p ${port} -k ${runDir} -c listen_addresses=127.0.0.1 -c fsync=on`,
      '-w', '-t', '60',
      'start',
    ]);
    startedHere = true;
  }
  await ensureDatabase(port, database);
  return {
    url: `postgres://sluice@127.0.0.1:${port}/${database}`,
    port,
    startedHere,
    stop: async () => {
      await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    },
  };
}

async function isRunning(exec: (tool: string, args: string[]) => Promise<string>, dataDir: string): Promise<boolean> {
  try {
    await exec('pg_ctl', ['-D', dataDir, 'status']);
    return true;
  } catch {
    return false;
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'sluice', database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((e) => {
      if (e.code !== '42P04') throw e; // created concurrently by another starter
    });
  } finally {
    await client.end();
  }
}

/**
 * As root the data directory must be reachable by the `postgres` user. When the project sits
 * under a directory it cannot enter (say /root), the cluster lives in /var/tmp under a name
 * derived from the project path, linked from `.sluice/postgres/data` so it is still found there.
 */
function resolveDataDir(base: string): string {
  const link = path.join(base, 'data');
  if (!isRoot()) return link;
  if (fs.existsSync(link)) return fs.realpathSync(link);
  if (traversableByOthers(base)) return link;
  const id = crypto.createHash('sha256').update(path.resolve(base)).digest('hex').slice(0, 12);
  const outside = path.join(os.tmpdir() === '/tmp' ? '/var/tmp' : os.tmpdir(), `sluice-pg-${id}`, 'data');
  fs.mkdirSync(path.dirname(outside), { recursive: true });
  fs.symlinkSync(outside, link);
  log(`${base} is not reachable by the postgres user; cluster stored in ${outside}`);
  return outside;
}

function traversableByOthers(dir: string): boolean {
  let d = path.resolve(dir);
  while (true) {
    const mode = fs.statSync(d).mode;
    if (!(mode & 0o001)) return false;
    const parent = path.dirname(d);
    if (parent === d) return true;
    d = parent;
  }
}
