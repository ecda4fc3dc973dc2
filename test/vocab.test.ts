import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { cardRef } from '../cli/commands/models';
import { parseDuration } from '../infra/config';
import { parseModelUri as registryParseModelUri, RegistryError } from '../infra/db/registry';
import { approvalDecision, type ApprovalDecision } from '../pipelines/dsl/approval';
import { applyModelDecisionInput } from '../pipelines/steps/registry';
import { modelSpec, scoringPartition } from '../pipelines/steps/scoring';
import { duration, durationMs, positiveDuration } from '../pipelines/vocab/duration';
import { aliasName, registeredModelName } from '../pipelines/vocab/model-name';
import { formatModelUri, parseModelUri } from '../pipelines/vocab/model-uri';

test('vocab: one duration vocabulary (ms, s, m, h, d, w) for specs, windows, settings and the monitor', () => {
  assert.deepEqual(['500ms', '30s', '15m', '1h', '1d', '2w'].map(durationMs), [500, 30_000, 900_000, 3_600_000, 86_400_000, 1_209_600_000]);
  for (const bad of ['', '1', '1.5h', '-1s', '1 h', '1y', 'h', '1H', '1234567890s']) {
    assert.equal(duration.safeParse(bad).success, false, bad);
    assert.throws(() => durationMs(bad), /invalid duration/, bad);
  }
  assert.equal(positiveDuration.safeParse('0s').success, false);
  assert.equal(duration.safeParse('0s').success, true);
  // Every place reads the same units: a setting, a scoring window and a monitor cooldown all take weeks and milliseconds.
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.throws(() => parseDuration('30 seconds'), /expected a duration/);
  assert.equal(scoringPartition.safeParse({ timeColumn: 't', window: '2w' }).success, true);
  assert.equal(scoringPartition.safeParse({ timeColumn: 't', window: '0h' }).success, false, 'a window is longer than zero');
});

test('vocab: one model URI parser, three dialects (registry, scoring param, CLI)', () => {
  assert.deepEqual(registryParseModelUri('models:/churn/3'), { name: 'churn', version: 3 });
  assert.deepEqual(registryParseModelUri('models:/churn@champion'), { name: 'churn', alias: 'champion' });
  assert.deepEqual(registryParseModelUri('models:/churn/latest'), { name: 'churn', latest: true });
  const rejects = (uri: string, re: RegExp) => assert.throws(() => registryParseModelUri(uri), (e: unknown) => e instanceof RegistryError && e.code === 'INVALID' && re.test(e.message), uri);
  rejects('churn/3', /invalid model URI "churn\/3": expected models:\/<name>\/<version>/);
  rejects('models:/churn', /expected models:/);
  rejects('models:/a b/1', /invalid model name "a b"/);
  rejects('models:/churn/0', /"0" is not a version number/);
  rejects('models:/churn@latest', /alias "latest" is reserved/);
  rejects('models:/churn@a.b', /invalid alias "a\.b"/);

  // Batch scoring's param: prefix optional, a definite version or alias.
  assert.deepEqual(modelSpec.parse('churn@champion'), { name: 'churn', alias: 'champion' });
  assert.deepEqual(modelSpec.parse('models:/churn/3'), { name: 'churn', version: 3 });
  for (const bad of ['churn', 'churn/latest', 'churn/x', 'ch urn@a', 'churn@v2']) {
    const r = modelSpec.safeParse(bad);
    assert.equal(r.success, false, bad);
    assert.match(r.error!.issues[0]!.message, /a model reference: "name@alias"/);
  }

  // The CLI: a bare name is the latest version.
  assert.equal(cardRef('churn'), 'models:/churn/latest');
  assert.equal(cardRef('models:/churn@champion'), 'models:/churn@champion');
  assert.throws(() => cardRef('a/b/c'), /"a\/b\/c" is not NAME, NAME\/VERSION or NAME@ALIAS/);

  for (const u of ['models:/m/1', 'models:/m@prod', 'models:/m/latest']) {
    const r = parseModelUri(u);
    assert.ok(r.ok);
    assert.equal(formatModelUri(r.uri), u, 'round trip');
  }
  assert.equal(registeredModelName.safeParse('a'.repeat(256)).success, false);
  assert.equal(aliasName.safeParse('V12').success, false);
});

test('vocab: ApprovalDecision is its schema, and apply-model-decision takes the same fields', () => {
  const d: ApprovalDecision = { approved: true, by: 'ada', reason: 'ok', decidedAt: '2026-01-01T00:00:00Z', timedOut: false };
  assert.deepEqual(approvalDecision.parse(d), d);
  const approval = applyModelDecisionInput.shape.approval;
  assert.deepEqual(approval.parse(d), { approved: true, by: 'ada', reason: 'ok' });
  assert.equal(approval.safeParse({ ...d, by: '' }).success, false, 'a decision names who took it');
  type Same = z.infer<typeof approval> extends Pick<ApprovalDecision, 'approved' | 'by' | 'reason'> ? true : false;
  const same: Same = true;
  assert.ok(same);
});
