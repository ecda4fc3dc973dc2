import type { SluiceConfig } from '../../infra/config';
import { startStack } from '../../infra/stack/stack';
import { setup } from './setup';
import { startServe } from './serve';
import { startConsole } from './ui';

/** `sluice up`: everything local, in the foreground, until Ctrl-C. Data stays under .sluice/. */
export async function up(config: SluiceConfig, uiPort: number): Promise<void> {
  await setup({ minio: false, postgres: !config.databaseUrl });
  const stack = await startStack({ config, uiPort });
  // The console reads the stack's database (embedded or DATABASE_URL) and links to its Temporal UI.
  // A console that cannot start (its port taken) is said, and the stack runs on without it.
  const ui = await startConsole({ ...config, databaseUrl: stack.databaseUrl, temporal: { ...config.temporal, address: stack.temporalAddress } }, { temporalUiUrl: stack.uiUrl }).catch((e: Error) => {
    console.error(`the console did not start: ${e.message}`);
    return undefined;
  });
  // The serving process on the same database; one that cannot start is said, and the rest runs on.
  const serving = await startServe(config, { databaseUrl: stack.databaseUrl }).catch((e: Error) => {
    console.error(`serving did not start: ${e.message}`);
    return undefined;
  });
  console.log(`\nSluice is up.\n  Console:      ${ui?.url ?? '(not started)'}\n  Serving:      ${serving?.url ?? '(not started)'}\n  Temporal UI:  ${stack.uiUrl ?? '(external server)'}\n  Temporal:     ${stack.temporalAddress}\n  Logs:         ${config.home}/logs\nPress Ctrl-C to stop.`);
  // Ctrl-C reaches us more than once (the terminal and the tsx/npm wrappers all forward it):
  // the first starts an orderly stop, later ones are acknowledged instead of killing us halfway.
  let stopping = false;
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      if (stopping) return void console.log('still stopping: workers are finishing their steps…');
      stopping = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  console.log('\nstopping…');
  await serving?.close();
  await ui?.close();
  await stack.stop();
  console.log('stopped');
}
