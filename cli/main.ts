import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../infra/config';
import { createPool } from '../infra/db/pool';
import { migrate } from '../infra/db/migrate';
import { resolveDatabaseUrl } from '../infra/stack/database-url';
import { connectClient } from './client';
import { registerApprovalCommands } from './commands/approve';
import { registerDatasetCommands } from './commands/datasets';
import { registerMonitorCommands } from './commands/monitor';
import { registerMonitorOnlineCommand } from './commands/monitor-online';
import { registerRolloutCommands } from './commands/rollout';
import { registerScheduleCommands } from './commands/schedule';
import { runDemo } from './commands/demo';
import { registerModelsCommands } from './commands/models';
import { registerPipelineCommands } from './commands/pipeline';
import { startRun } from './commands/run';
import { reportPageLines } from './report-pages';
import { gateLines } from './render/gates';
import { openArtifactStore } from '../infra/artifacts';
import { registerRunsCommands } from './commands/runs';
import { registerServeCommand } from './commands/serve';
import { setup } from './commands/setup';
import { up } from './commands/up';
import { registerUiCommand } from './commands/ui';
import { endQuietlyOnClosedPipe } from './output';

endQuietlyOnClosedPipe();

const program = new Command('sluice')
  .description('Durable, typed ML pipelines on Temporal')
  .showHelpAfterError()
  .addHelpText('after', `
Examples:
  sluice up                         start Temporal, PostgreSQL and both workers (Ctrl-C stops them)
  sluice run hello --wait           run the first pipeline and print its result
  sluice run hello --input '{"name":"Ada"}'
  sluice demo                       start everything, run a pipeline end to end, stop`);

program
  .command('setup')
  .description('install what Sluice needs (Temporal CLI, PostgreSQL, MinIO), cached outside the clone')
  .option('--no-minio', 'skip the MinIO server (needed only for S3 artifacts and their tests)')
  .option('--no-postgres', 'skip PostgreSQL (when DATABASE_URL points at a server)')
  .action(async (o: { minio: boolean; postgres: boolean }) => {
    const found = await setup({ minio: o.minio, postgres: o.postgres && !process.env.DATABASE_URL });
    for (const [k, v] of Object.entries(found)) console.log(`${k.padEnd(9)} ${v}`);
  });

program
  .command('up')
  .description('start the local stack: Temporal dev server (UI on 8233), PostgreSQL, migrations, CPU and GPU workers')
  .addOption(new Option('--ui-port <port>', 'Temporal UI port').default('8233'))
  .action(async (o: { uiPort: string }) => up(loadConfig(), Number(o.uiPort)));

program
  .command('migrate')
  .description('apply pending metadata migrations (idempotent)')
  .action(async () => {
    const config = loadConfig();
    const db = createPool(await resolveDatabaseUrl(config), { max: 1, application: 'sluice-migrate' });
    try {
      const { applied } = await migrate(db);
      console.log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await db.end();
    }
  });

program
  .command('run <pipeline>')
  .description('start a pipeline run')
  .option('-i, --input <json>', 'params as one JSON object', '{}')
  .option('-f, --input-file <file>', 'params from a JSON file')
  .option('--id <workflowId>', 'workflow id (default: <pipeline>-<random>)')
  .option('-w, --wait', 'wait for the result and print it')
  .option('--json', 'print JSON')
  .action(async (name: string, o: { input: string; inputFile?: string; id?: string; wait?: boolean; json?: boolean }) => {
    const config = loadConfig();
    const client = await connectClient(config);
    try {
      const r = await startRun(client, config, name, {
        ...o,
        progress: !o.json,
        // The id first, before any waiting: it is what Ctrl-C, `runs show` and the UI need.
        onStarted: (ids) => {
          if (!o.json) console.log(`started ${name}: workflow ${ids.workflowId} run ${ids.runId}`);
          if (o.wait) process.stderr.write(`waiting for ${ids.workflowId} (Ctrl-C stops waiting; the run goes on)\n`);
        },
      });
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else {
        if (r.result !== undefined) {
          console.log(JSON.stringify(r.result, null, 2));
          const store = await openArtifactStore(config.artifacts);
          for (const line of await reportPageLines(store, config.home, r.result.outputs)) console.log(line);
          for (const line of gateLines(r.result.outputs)) console.log(line);
        }
      }
    } finally {
      await client.connection.close();
    }
  });

registerPipelineCommands(program);
registerRunsCommands(program);
registerModelsCommands(program);

program
  .command('demo')
  .description('the main job: start the stack, run the demo pipeline end to end, stop')
  .action(async () => runDemo(loadConfig()));

registerApprovalCommands(program);
registerDatasetCommands(program);
registerMonitorCommands(program);
registerMonitorOnlineCommand(program);
registerRolloutCommands(program);
registerScheduleCommands(program);
registerServeCommand(program);
registerUiCommand(program);

program.parseAsync().catch((e: Error) => {
  process.stderr.write(`sluice: ${e instanceof ConfigError ? e.message : e.message}\n`);
  process.exit(e instanceof ConfigError ? 78 : 1);
});
