import { invalidInput } from '../../pipelines/failures';
import { gbdtTrialsStep, selectBestStep } from '../../pipelines/steps/hpo';
import { implement } from '../runtime/implement';
import { Rng } from './rng';

export const gbdtTrials = implement(gbdtTrialsStep, async ({ base, space, strategy, maxTrials, seed }) => {
  const keys = Object.keys(space).sort();
  const grid: Record<string, number | boolean>[] = [{}];
  for (const k of keys) {
    const next: Record<string, number | boolean>[] = [];
    for (const partial of grid) for (const v of space[k]!) next.push({ ...partial, [k]: v });
    grid.splice(0, grid.length, ...next);
  }
  let chosen = grid;
  if (strategy === 'random' && grid.length > maxTrials) {
    // Seeded Fisher-Yates: the same seed draws the same trials.
    const rng = new Rng(seed);
    chosen = [...grid];
    for (let i = chosen.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [chosen[i], chosen[j]] = [chosen[j]!, chosen[i]!];
    }
  }
  return { trials: chosen.slice(0, maxTrials).map((t) => ({ ...base, ...t })) };
});

const LOWER_IS_BETTER = new Set(['validation_loss', 'train_loss']);

export const selectBest = implement(selectBestStep, async ({ trials, metric }, ctx) => {
  const lower = LOWER_IS_BETTER.has(metric);
  const ranking = trials.map((t, index) => {
    const v = (t.metrics as Record<string, unknown>)[metric];
    return { index, value: typeof v === 'number' && Number.isFinite(v) ? v : null, params: t.params };
  });
  const scored = ranking.filter((r) => r.value !== null).sort((a, b) => (lower ? a.value! - b.value! : b.value! - a.value!) || a.index - b.index);
  const best = scored[0];
  if (!best) throw invalidInput(`no trial reports ${metric}; give the trainer a validation split`);
  ctx.log.info('best trial', { index: best.index, metric, value: best.value, params: best.params });
  return { model: trials[best.index]!.model, index: best.index, value: best.value!, params: best.params, ranking };
});
