/**
 * A worker-like process for test/fault-tolerance/postgres-restart.test.ts: checks a client out of
 * the shared pool (infra/db/pool.ts), opens a transaction and holds it, idle between queries,
 * while the test stops PostgreSQL. Reports each phase on stdout; the test drives it on stdin.
 * A checked-out pg client whose server goes away emits `error`: without a listener that event
 * would crash this process, as it crashed CPU workers.
 */
import readline from 'node:readline';
import { createPool, withTransaction } from '../../infra/db/pool';

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async (want: string) => {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`stdin closed before "${want}"`);
    if (value.trim() === want) return;
  }
};
const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const db = createPool(process.argv[2]!, { max: 2, application: 'hold-transaction' });
  try {
    await withTransaction(db, async (client) => {
      await client.query('SELECT 1');
      say('in-transaction');
      await next('stopped');
      await client.query('SELECT 1');
    });
    say('transaction-committed');
  } catch (e) {
    say(`transaction-failed: ${(e as Error).message}`);
  }
  await next('restarted');
  const { rows } = await db.query<{ one: number }>('SELECT 1 AS one');
  say(`recovered ${rows[0]!.one}`);
  await db.end();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
