/** Verification error rates from genuine (same person) and impostor (different people) similarity scores. */

export interface ErrorRates {
  /** Equal error rate: where the false-accept and false-reject rates cross. */
  eer: number;
  /** The similarity threshold at the equal error rate. */
  eerThreshold: number;
}

/** Share of impostor scores at or above `threshold` (accepted wrongly). */
export function falseAcceptRate(impostor: number[], threshold: number): number {
  return impostor.filter((s) => s >= threshold).length / impostor.length;
}

/** Share of genuine scores below `threshold` (rejected wrongly). */
export function falseRejectRate(genuine: number[], threshold: number): number {
  return genuine.filter((s) => s < threshold).length / genuine.length;
}

/**
 * Every observed score is tried as a threshold; the EER is the mean of both rates where they are
 * closest. One pass over the sorted scores, so hundreds of thousands of pairs take milliseconds.
 */
export function equalErrorRate(genuine: number[], impostor: number[]): ErrorRates {
  const g = Float64Array.from(genuine).sort();
  const i = Float64Array.from(impostor).sort();
  const thresholds = Float64Array.from(new Set([...genuine, ...impostor])).sort();
  let best = { gap: Infinity, eer: 1, eerThreshold: 0 };
  // gBelow: genuine scores under t (rejected); iBelow: impostor scores under t (so the rest are accepted).
  let gBelow = 0;
  let iBelow = 0;
  for (const t of thresholds) {
    while (gBelow < g.length && g[gBelow] < t) gBelow++;
    while (iBelow < i.length && i[iBelow] < t) iBelow++;
    const far = (i.length - iBelow) / i.length;
    const frr = gBelow / g.length;
    const gap = Math.abs(far - frr);
    if (gap < best.gap) best = { gap, eer: (far + frr) / 2, eerThreshold: t };
  }
  return { eer: best.eer, eerThreshold: best.eerThreshold };
}

/**
 * The lowest threshold whose false-accept rate is at most `far`, and the share of genuine scores
 * it accepts (true-accept rate).
 */
export function tarAtFar(genuine: number[], impostor: number[], far: number): { tar: number; threshold: number } {
  const sorted = [...impostor].sort((a, b) => b - a);
  const allowed = Math.floor(far * impostor.length);
  // Accept strictly above the (allowed+1)-th highest impostor score.
  const threshold = allowed < sorted.length ? sorted[allowed] + 1e-9 : -Infinity;
  return { tar: 1 - falseRejectRate(genuine, threshold), threshold };
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: number[], b: number[]): number {
  const rank = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const ranks = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return ranks;
  };
  const ra = rank(a);
  const rb = rank(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}
