import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRunActivities } from '../activities/runs/bookkeeping';
import { createPool, type Db } from '../infra/db/pool';
import { migrate } from '../infra/db/migrate';
import { recordStepEnd, recordStepStart } from '../infra/db/runs';
import { uniqueId, usePostgres } from './helpers/stack';

let pg: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;

before(async () => {
  pg = await usePostgres();
  db = createPool(pg.url);
  await migrate(db);
});
after(async () => {
  await db?.end();
  await pg?.stop();
});

async function runWithSteps(): Promise<string> {
  const runId = uniqueId('run-');
  const book = createRunActivities({ db });
  await book.recordRunStarted({ runId, workflowId: `wf-${runId}`, pipelineName: 'p', pipelineVersion: 'v1', params: {} });
  const start = (node: string) => recordStepStart(db, { runId, node, step: 't.add', stepVersion: '1', queue: 'cpu', attempt: 3 });
  await start('done');
  await recordStepEnd(db, { runId, node: 'done', status: 'succeeded', outputs: { sum: 1 } });
  await start('own-failure');
  await recordStepEnd(db, { runId, node: 'own-failure', status: 'failed', error: 'boom' });
  // Its last attempt timed out, or failed while the database was down: nothing recorded its end.
  await start('abandoned');
  return runId;
}

const steps = async (runId: string) =>
  (await db.query(`SELECT node_id, status, error, ended_at IS NOT NULL AS ended FROM step_runs WHERE run_id = $1 ORDER BY node_id`, [runId])).rows;

test('a failed run leaves no step recorded as running; steps that ended keep their own state', async () => {
  const runId = await runWithSteps();
  await createRunActivities({ db }).recordRunFinished({ runId, status: 'failed', error: 'node abandoned failed' });
  const rows = await steps(runId);
  assert.deepEqual(rows.map((r) => [r.node_id, r.status, r.ended]), [
    ['abandoned', 'failed', true],
    ['done', 'succeeded', true],
    ['own-failure', 'failed', true],
  ]);
  assert.match(rows[0].error, /^the run failed while this step was running/);
  assert.equal(rows[2].error, 'boom', 'a recorded error is kept');
  const run = await db.query('SELECT status FROM runs WHERE run_id = $1', [runId]);
  assert.equal(run.rows[0].status, 'failed');
});

test('a cancelled run closes its running steps too, saying it was cancelled', async () => {
  const runId = await runWithSteps();
  await createRunActivities({ db }).recordRunFinished({ runId, status: 'cancelled' });
  const rows = await steps(runId);
  assert.equal(rows[0].status, 'failed');
  assert.match(rows[0].error, /^the run was cancelled while this step was running/);
});
