/**
 * The Jensen–Shannon distance, scipy.spatial.distance.jensenshannon(p, q) with the natural log:
 * both vectors normalized to sum 1, m = (p + q)/2, JS = sqrt((KL(p‖m) + KL(q‖m)) / 2), in
 * [0, √ln 2]. KL terms use scipy.special.rel_entr: x·ln(x/y), 0 when x = 0.
 */

export function relEntr(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const k = p.length;
  if (q.length !== k) throw new RangeError(`jensenShannon: vectors of ${k} and ${q.length} entries`);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < k; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < k; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    left += relEntr(pi, m);
    right += relEntr(qi, m);
  }
  const js = left + right;
  return Math.sqrt(Math.max(js, 0) / 2);
}
