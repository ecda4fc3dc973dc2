import type { SluiceConfig } from '../../infra/config';
import { startStack } from '../../infra/stack/stack';
import { setup } from './setup';

/** `sluice up`: everything local, in the foreground, until Ctrl-C. Data stays under .sluice/. */
export async function up(config: SluiceConfig, uiPort: number): Promise<void> {
  await setup({ minio: false, postgres: !config.databaseUrl });
  const stack = await startStack({ config, uiPort });
  console.log(`\nSluice is up.\n  Temporal UI:  ${stack.uiUrl ?? '(external server)'}\n  Temporal:     ${stack.temporalAddress}\n  Logs:         ${config.home}/logs\nPress Ctrl-C to stop.`);
  await new Promise<void>((resolve) => {
    const onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  console.log('\nstopping…');
  await stack.stop();
  console.log('stopped');
}
