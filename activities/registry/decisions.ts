import type { MetricDirection, MetricSet } from '../../pipelines/steps/evaluation';
import type { Gate, GateResult } from '../../pipelines/steps/registry';

/**
 * The pure logic behind the registry steps: metric gates and the champion/challenger rule.
 */

/** Gates pass when every declared metric satisfies its bound; a metric missing or null fails. */
export function evaluateGates(gates: readonly Gate[], metrics: MetricSet): GateResult[] {
  return gates.map((g) => {
    const has = Object.prototype.hasOwnProperty.call(metrics, g.metric);
    const v = has ? metrics[g.metric] : undefined;
    if (v === undefined || v === null || !Number.isFinite(v)) {
      const known = Object.keys(metrics).sort();
      return {
        ...g,
        actual: null,
        passed: false,
        reason: has ? `${g.metric} is undefined on this evaluation (null)` : `${g.metric} was not reported${known.length ? ` (reported: ${known.join(', ')})` : ''}`,
      };
    }
    const passed = g.op === '>=' ? v >= g.value : g.op === '>' ? v > g.value : g.op === '<=' ? v <= g.value : v < g.value;
    return { ...g, actual: v, passed, reason: `${g.metric} = ${v} ${passed ? 'satisfies' : 'fails'} ${g.op} ${g.value}` };
  });
}

/** Float noise allowed when comparing an improvement with its margin (0.81 − 0.80 vs 0.01). */
const EPS = 1e-12;

export interface PromotionRule {
  metric: string;
  direction: MetricDirection;
  margin: number;
  marginKind: 'absolute' | 'relative';
}

export interface PromotionVerdict {
  promote: boolean;
  /** challenger − champion (null when either is undefined or there is no champion). */
  delta: number | null;
  /** How much better the challenger is, in the direction's sense (relative: as a fraction of the champion's value). */
  improvement: number | null;
  reason: string;
}

/**
 * The challenger is promoted when there is no champion, or when it is better by more than 0 and
 * by at least the margin: improvement = (challenger − champion) if higher is better, else
 * (champion − challenger); relative margins divide it by |champion|. An undefined value on
 * either side is no evidence: not promoted.
 */
export function decidePromotion(rule: PromotionRule, challenger: number | null, champion: { version: number; value: number | null } | null): PromotionVerdict {
  const m = rule.metric;
  if (challenger === null || !Number.isFinite(challenger)) {
    return { promote: false, delta: null, improvement: null, reason: `the challenger's ${m} is undefined: no evidence to promote it` };
  }
  if (!champion) return { promote: true, delta: null, improvement: null, reason: `no current champion: the challenger (${m} = ${challenger}) becomes it` };
  const h = champion.value;
  if (h === null || !Number.isFinite(h)) {
    return { promote: false, delta: null, improvement: null, reason: `the champion's (v${champion.version}) ${m} is undefined on this holdout: cannot compare; decide by hand` };
  }
  const delta = challenger - h;
  const better = rule.direction === 'higher' ? delta : -delta;
  let improvement: number;
  if (rule.marginKind === 'relative') improvement = h === 0 ? (better > 0 ? Infinity : better === 0 ? 0 : -Infinity) : better / Math.abs(h);
  else improvement = better;
  const need = rule.marginKind === 'relative' ? `${rule.margin * 100}% of the champion's value` : `${rule.margin}`;
  const numbers = `${m}: challenger ${challenger}, champion v${champion.version} ${h} (${rule.direction} is better)`;
  if (!(better > 0)) return { promote: false, delta, improvement, reason: `${numbers}: the challenger is not better` };
  if (improvement + EPS < rule.margin) return { promote: false, delta, improvement, reason: `${numbers}: better by ${fmt(improvement, rule.marginKind)}, less than the margin ${need}` };
  return { promote: true, delta, improvement, reason: `${numbers}: better by ${fmt(improvement, rule.marginKind)}, at least the margin ${need}` };
}

const fmt = (v: number, kind: 'absolute' | 'relative') => (kind === 'relative' ? `${Number((v * 100).toPrecision(6))}%` : String(Number(v.toPrecision(12))));
