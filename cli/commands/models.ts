import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { createPool, type Db } from '../../infra/db/pool';
import {
  checkAlias,
  checkModelName,
  checkModelUri,
  deleteAlias,
  getRegisteredModel,
  listAliasEvents,
  listDecisions,
  listModelVersions,
  listRegisteredModels,
  modelUri,
  RegistryError,
  resolveModelUri,
  setAlias,
  type AliasChange,
  type AliasEventRow,
  type ModelVersionRow,
} from '../../infra/db/registry';
import { formatModelUri } from '../../pipelines/vocab/model-uri';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import { clean, renderModelCardMarkdown } from '../render/model-card';
import { registerModelsImportCommand } from './models-import';
import { BY_HELP, defaultActor } from '../actor';
import type { ModelCard } from '../../pipelines/steps/registry';

/**
 * `sluice models …`: the model registry in PostgreSQL. Listings take `--json`; alias changes need
 * `--reason` and are recorded (who, when, why, from, to) in alias_events.
 */

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = createPool(await resolveDatabaseUrl(loadConfig()), { max: 1, application: 'sluice-cli' });
  try {
    return await fn(db);
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') throw new Error('the registry tables do not exist in this database: run `sluice migrate` first');
    throw e;
  } finally {
    await db.end();
  }
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '');

function printTable(head: string[], rows: string[][]): void {
  const safe = rows.map((r) => r.map((c) => clean(c).replace(/\s+/g, ' ')));
  const w = head.map((h, i) => Math.max(h.length, ...safe.map((t) => t[i]!.length)));
  for (const t of [head, ...safe]) console.log(t.map((c, i) => (i === t.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd());
}

function parseVersion(s: string): number {
  if (!/^[1-9]\d{0,9}$/.test(s)) throw new RegistryError('INVALID', `version must be a positive integer, got "${s}"`);
  return Number(s);
}

function parseLimit(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--limit must be a positive integer, got "${s}"`);
  return n;
}

const aliasList = (aliases: Record<string, number>) =>
  Object.entries(aliases)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([a, v]) => `${a}=v${v}`)
    .join(' ');

const short = (s: string | null | undefined, n: number) => (s ? (s.length > n ? `${s.slice(0, n - 1)}…` : s) : '');

function versionRows(vs: ModelVersionRow[]): string[][] {
  return vs.map((v) => [`${v.version}`, iso(v.created_at), v.status, v.aliases.join(','), v.run_id ?? '', v.code_version ? v.code_version.slice(0, 12) : '', v.source_sha256.slice(0, 12), short(v.description, 50)]);
}
const VERSION_HEAD = ['VERSION', 'CREATED', 'STATUS', 'ALIASES', 'RUN', 'CODE', 'SHA256', 'DESCRIPTION'];

/** NAME, NAME/VERSION, NAME@ALIAS (or a full models:/ URI) → the URI to resolve; NAME alone is the latest version. */
export function cardRef(ref: string): string {
  return formatModelUri(checkModelUri(ref, { prefix: 'optional', bareName: true }, () => `"${ref}" is not NAME, NAME/VERSION or NAME@ALIAS`));
}

/**
 * The champion before `current`: the version the latest move of `champion` onto `current` came
 * from (null: `current` was the first). Rolling back twice therefore returns to where it started.
 */
export function previousChampion(events: readonly Pick<AliasEventRow, 'alias' | 'action' | 'from_version' | 'to_version'>[], current: number): number | null {
  const moved = events.filter((e) => e.alias === 'champion' && e.action === 'set' && e.to_version === current).at(-1);
  return moved?.from_version ?? null;
}

/** Moves `champion` back to the previous champion (previousChampion), audited in alias_events. */
export async function rollbackChampion(db: Db, name: string, by: { actor: string; reason?: string }): Promise<AliasChange> {
  const model = await getRegisteredModel(db, checkModelName(name));
  if (!model) throw new RegistryError('NOT_FOUND', `no registered model "${name}" (see \`sluice models list\`)`);
  const current = model.aliases.champion;
  if (current === undefined) throw new RegistryError('NOT_FOUND', `model "${name}" has no champion to roll back`);
  const previous = previousChampion(await listAliasEvents(db, name, { alias: 'champion' }), current);
  if (previous === null) throw new RegistryError('NOT_FOUND', `model "${name}" has had no champion before v${current}: nothing to roll back to`);
  return setAlias(db, { name, alias: 'champion', version: previous, actor: by.actor, reason: by.reason ?? `rollback of v${current} to the previous champion v${previous}` });
}

export function registerModelsCommands(program: Command): void {
  const cmd = program.command('models').description('the model registry: registered models, versions, aliases, model cards');
  registerModelsImportCommand(cmd);

  cmd
    .command('list', { isDefault: true })
    .description('registered models with their latest version and aliases')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withDb((db) => listRegisteredModels(db));
      if (o.json) return void console.log(JSON.stringify(rows, null, 2));
      if (!rows.length) return void console.log('no registered models');
      printTable(
        ['NAME', 'VERSIONS', 'ALIASES', 'UPDATED', 'DESCRIPTION'],
        rows.map((r) => [r.name, String(r.last_version), aliasList(r.aliases), iso(r.updated_at), short(r.description, 60)]),
      );
    });

  cmd
    .command('show <name>')
    .description('one registered model: description, tags, aliases, recent versions, alias history, decisions')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      checkModelName(name);
      const data = await withDb(async (db) => {
        const model = await getRegisteredModel(db, name);
        if (!model) throw new RegistryError('NOT_FOUND', `no registered model "${name}" (see \`sluice models list\`)`);
        return {
          model,
          versions: await listModelVersions(db, name, { limit: 20 }),
          aliasEvents: (await listAliasEvents(db, name)).slice(-20),
          decisions: await listDecisions(db, name, { limit: 10 }),
        };
      });
      if (o.json) return void console.log(JSON.stringify(data, null, 2));
      const m = data.model;
      const header: [string, string][] = [
        ['model', m.name],
        ['description', m.description ?? '—'],
        ['versions', String(m.last_version)],
        ['aliases', aliasList(m.aliases) || '—'],
        ['created', iso(m.created_at)],
        ['updated', iso(m.updated_at)],
      ];
      if (Object.keys(m.tags).length) header.push(['tags', Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(' ')]);
      for (const [k, v] of header) console.log(`${k.padEnd(12)} ${clean(v)}`);
      console.log('\nversions (latest first):');
      if (data.versions.length) printTable(VERSION_HEAD, versionRows(data.versions));
      console.log('\nalias history:');
      if (!data.aliasEvents.length) console.log('  none');
      else
        printTable(
          ['WHEN', 'ALIAS', 'CHANGE', 'BY', 'WHY'],
          data.aliasEvents.map((e) => [iso(e.created_at), e.alias, e.action === 'delete' ? `v${e.from_version} → (removed)` : `${e.from_version === null ? '(none)' : `v${e.from_version}`} → v${e.to_version}`, e.actor, e.reason]),
        );
      if (data.decisions.length) {
        console.log('\npromotion decisions (latest first):');
        printTable(
          ['WHEN', 'OUTCOME', 'CHALLENGER', 'CHAMPION', 'METRIC', 'VALUES', 'BY'],
          data.decisions.map((d) => [
            iso(d.created_at),
            d.outcome,
            `v${d.challenger_version}`,
            d.champion_version === null ? '(none)' : `v${d.champion_version}`,
            d.metric ?? '',
            d.challenger_value === null && d.champion_value === null ? '' : `${d.challenger_value ?? '—'} vs ${d.champion_value ?? '—'}`,
            d.decided_by,
          ]),
        );
      }
    });

  cmd
    .command('versions <name>')
    .description('versions of a registered model, latest first')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { limit: string; json?: boolean }) => {
      checkModelName(name);
      const limit = parseLimit(o.limit);
      const rows = await withDb(async (db) => {
        if (!(await getRegisteredModel(db, name))) throw new RegistryError('NOT_FOUND', `no registered model "${name}" (see \`sluice models list\`)`);
        return listModelVersions(db, name, { limit });
      });
      if (o.json) return void console.log(JSON.stringify(rows, null, 2));
      printTable(VERSION_HEAD, versionRows(rows));
    });

  const alias = cmd.command('alias').description('point, move or remove an alias (every change is recorded: who, when, why, from, to)');

  alias
    .command('set <name> <alias> <version>')
    .description('point ALIAS at VERSION (moving it if set): `champion` here is a promotion, or a rollback')
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .option('--by <who>', BY_HELP)
    .option('--json', 'print JSON')
    .action(async (name: string, a: string, version: string, o: { reason: string; by?: string; json?: boolean }) => {
      const change = await withDb((db) =>
        setAlias(db, { name: checkModelName(name), alias: checkAlias(a), version: parseVersion(version), actor: o.by ?? defaultActor(), reason: o.reason }),
      );
      if (o.json) return void console.log(JSON.stringify(change, null, 2));
      if (!change.changed) console.log(`${name}@${a} already points at v${change.to}: nothing changed`);
      else console.log(`${name}@${a}: ${change.from === null ? '(none)' : `v${change.from}`} → v${change.to}  (${modelUri(name, change.to!)})`);
    });

  alias
    .command('rm <name> <alias>')
    .description('remove an alias')
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .option('--by <who>', BY_HELP)
    .option('--json', 'print JSON')
    .action(async (name: string, a: string, o: { reason: string; by?: string; json?: boolean }) => {
      const change = await withDb((db) => deleteAlias(db, { name: checkModelName(name), alias: checkAlias(a), actor: o.by ?? defaultActor(), reason: o.reason }));
      if (o.json) return void console.log(JSON.stringify(change, null, 2));
      console.log(`${name}@${a} removed (was v${change.from})`);
    });

  cmd
    .command('rollback <name>')
    .description('move `champion` back to the previous champion (from the alias history); serving follows at once')
    .option('--reason <text>', 'why (kept in the audit trail; default: "rollback of vN to the previous champion")')
    .option('--by <who>', BY_HELP)
    .option('--json', 'print JSON')
    .action(async (name: string, o: { reason?: string; by?: string; json?: boolean }) => {
      const change = await withDb((db) => rollbackChampion(db, name, { actor: o.by ?? defaultActor(), ...(o.reason ? { reason: o.reason } : {}) }));
      if (o.json) return void console.log(JSON.stringify(change, null, 2));
      console.log(`${name}@champion: v${change.from} → v${change.to} (rolled back)`);
    });

  cmd
    .command('card <model>')
    .description('the model card of NAME (latest version), NAME/VERSION or NAME@ALIAS, as Markdown')
    .option('--json', 'print the card as JSON')
    .action(async (ref: string, o: { json?: boolean }) => {
      const v = await withDb((db) => resolveModelUri(db, cardRef(ref)));
      if (o.json) return void console.log(JSON.stringify(v.model_card, null, 2));
      process.stdout.write(renderModelCardMarkdown(v.model_card as unknown as ModelCard, { aliases: v.aliases, createdAt: v.created_at, createdBy: v.created_by, status: v.status }));
    });
}
