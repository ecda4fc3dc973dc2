import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { openArtifactStore } from '../../infra/artifacts';
import { findDriftReport, listDriftResults } from '../../infra/db/drift';
import { getDatasetVersion, listDatasets, listDatasetVersions, parseDatasetSpec } from '../../infra/db/datasets';
import { createPool, type Db } from '../../infra/db/pool';
import { getValidationReportById, listValidationReports } from '../../infra/db/validation';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import { printTable } from '../render/table';
import { reportLocator, reportPage } from '../report-pages';

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createPool(await resolveDatabaseUrl(loadConfig()), { max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** A report's page (file:// URL of an .html copy under SLUICE_HOME/reports), for each report the commands print. */
async function pageOpener(): Promise<(uri: string) => Promise<string>> {
  const config = loadConfig();
  const store = await openArtifactStore(config.artifacts);
  return (uri) => reportPage(store, config.home, uri);
}

/** `sluice datasets list|show` and `sluice reports list|open`: dataset versions and their validation and drift reports. */
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
        if (!all.length) return console.log(o.prefix ? `no datasets named ${o.prefix}…` : 'no datasets registered');
        printTable(
          ['NAME', 'VERSIONS', 'LATEST', 'CREATED'],
          all.map((d) => [d.name, String(d.versions), d.latestVersion === null ? '-' : `v${d.latestVersion}`, d.latestCreatedAt?.toISOString() ?? '']),
        );
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
          if (!vs.length) return console.log(`no dataset named ${name}`);
          printTable(
            ['VERSION', 'ROWS', 'SHA256', 'CREATED', 'URI'],
            vs.map((v) => [`v${v.version}`, String(v.rows), v.sha256.slice(0, 12), v.createdAt.toISOString(), v.uri]),
          );
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
          if (!rows.length) return console.log(`no drift results for model ${o.drift}`);
          const page = await pageOpener();
          const table: string[][] = [];
          for (const r of rows) table.push([r.checked_at.toISOString(), r.dataset_drift ? 'DRIFT' : 'ok', Number(r.share).toFixed(2), r.batch_id, await page(r.html_uri)]);
          printTable(['CHECKED', 'RESULT', 'SHARE', 'BATCH', 'REPORT'], table);
          return;
        }
        const rows = await listValidationReports(db, { dataset: o.dataset, ...(o.failed ? { success: false } : {}) });
        if (o.json) return console.log(JSON.stringify(rows, null, 2));
        if (!rows.length) return console.log('no validation reports');
        const page = await pageOpener();
        const table: string[][] = [];
        for (const r of rows) table.push([String(r.id), r.created_at.toISOString(), r.success ? 'pass' : 'FAIL', `${r.dataset_name}@${r.dataset_version}`, r.suite_name, await page(r.html_uri)]);
        printTable(['ID', 'CREATED', 'RESULT', 'DATASET', 'SUITE', 'REPORT'], table);
      }),
    );
  reports
    .command('open <id>')
    .description('print a file:// URL that opens a report as a page: a validation report id (from `reports list`), a drift batch id, an artifact URI or sha256')
    .option('--drift <model>', 'the model whose drift check of that batch id is meant')
    .action(async (id: string, o: { drift?: string }) =>
      withDb(async (db) => {
        let uri: string | undefined;
        if (/^[0-9]{1,15}$/.test(id)) uri = (await getValidationReportById(db, Number(id)))?.html_uri;
        else if (/^[0-9a-f]{64}$/i.test(id) || id.includes('://') || id.startsWith('cas/')) uri = id;
        else uri = await findDriftReport(db, id, o.drift);
        if (!uri) throw new Error(`no report ${id}: give a validation report id (sluice reports list), a drift batch id (sluice reports list --drift MODEL), an artifact URI or a sha256`);
        console.log(await (await pageOpener())(reportLocator(uri)));
      }),
    );
}
