import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { listDriftResults } from '../../infra/db/drift';
import { getDatasetVersion, listDatasets, listDatasetVersions, parseDatasetSpec } from '../../infra/db/datasets';
import { createPool, type Db } from '../../infra/db/pool';
import { listValidationReports } from '../../infra/db/validation';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createPool(await resolveDatabaseUrl(loadConfig()), { max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** `sluice datasets list|show` and `sluice reports list`: dataset versions and their validation and drift reports. */
export function registerDatasetCommands(program: Command): void {
  const datasets = program.command('datasets').description('dataset versions: list, show one with its schema and profile');
  datasets
    .command('list', { isDefault: true })
    .option('--prefix <text>', 'only names starting with this')
    .option('--json', 'print JSON')
    .action(async (o: { prefix?: string; json?: boolean }) =>
      withDb(async (db) => {
        const all = await listDatasets(db, { prefix: o.prefix });
        if (o.json) return console.log(JSON.stringify(all, null, 2));
        for (const d of all) console.log(`${d.name.padEnd(32)} ${String(d.versions).padStart(3)} version(s)  latest v${d.latestVersion ?? '-'}  ${d.latestCreatedAt?.toISOString() ?? ''}`);
      }),
    );
  datasets
    .command('show <dataset>')
    .description('NAME (latest) or NAME@VERSION')
    .option('--json', 'print JSON')
    .option('--versions', 'list every version instead')
    .action(async (spec: string, o: { json?: boolean; versions?: boolean }) =>
      withDb(async (db) => {
        const { name, version } = parseDatasetSpec(spec);
        if (o.versions) {
          const vs = await listDatasetVersions(db, name);
          if (o.json) return console.log(JSON.stringify(vs, null, 2));
          for (const v of vs) console.log(`v${v.version}  ${v.rows} rows  ${v.sha256.slice(0, 12)}  ${v.createdAt.toISOString()}  ${v.uri}`);
          return;
        }
        const v = await getDatasetVersion(db, name, version);
        if (!v) throw new Error(`no dataset version ${spec}`);
        if (o.json) return console.log(JSON.stringify(v, null, 2));
        console.log(`${v.name}@${v.version}: ${v.rows} rows, ${v.sizeBytes} bytes, sha256 ${v.sha256}`);
        console.log(`  uri:     ${v.uri}`);
        console.log(`  profile: ${v.profileUri ?? '-'}   bad rows: ${v.badRows}${v.quarantineUri ? ` (quarantine ${v.quarantineUri})` : ''}`);
        for (const c of v.schema) console.log(`  ${c.name.padEnd(28)} ${c.type}${c.nullable ? '' : ' not null'}`);
      }),
    );

  const reports = program.command('reports').description('validation and drift reports');
  reports
    .command('list', { isDefault: true })
    .option('--dataset <name>', 'only this dataset')
    .option('--failed', 'only failed validations')
    .option('--drift <model>', 'drift results of a model instead')
    .option('--json', 'print JSON')
    .action(async (o: { dataset?: string; failed?: boolean; drift?: string; json?: boolean }) =>
      withDb(async (db) => {
        if (o.drift) {
          const rows = await listDriftResults(db, o.drift);
          if (o.json) return console.log(JSON.stringify(rows, null, 2));
          for (const r of rows) console.log(`${r.checked_at.toISOString()}  ${r.dataset_drift ? 'DRIFT' : 'ok   '}  share ${Number(r.share).toFixed(2)}  ${r.batch_id}  ${r.html_uri}`);
          return;
        }
        const rows = await listValidationReports(db, { dataset: o.dataset, ...(o.failed ? { success: false } : {}) });
        if (o.json) return console.log(JSON.stringify(rows, null, 2));
        for (const r of rows) console.log(`${r.created_at.toISOString()}  ${r.success ? 'pass' : 'FAIL'}  ${r.dataset_name}@${r.dataset_version}  ${r.suite_name.padEnd(20)} ${r.html_uri}`);
      }),
    );
}
