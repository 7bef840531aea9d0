/**
 * ECOD (Li et al., "ECOD: Unsupervised Outlier Detection Using Empirical Cumulative Distribution
 * Functions", 2022), BQAT's default outlier detector, following PyOD's formulation: per column,
 * the negative log of the left-tail and right-tail empirical CDFs, and of the tail the column's
 * skewness points to; a row's score is the sum over columns of the largest of the three. The
 * `contamination` share of rows with the highest scores are outliers.
 */

export interface ColumnContribution {
  column: string;
  /** This column's part of the row's score. */
  contribution: number;
}

export interface Outlier {
  index: number;
  score: number;
  /** The columns that add most to the score, largest first. */
  columns: ColumnContribution[];
}

export interface OutlierReport {
  scores: number[];
  /** Rows scoring above it are outliers (the 1 - contamination quantile, linearly interpolated). */
  threshold: number;
  outliers: Outlier[];
  /** Columns left out because every known value in them is the same. */
  constantColumns: string[];
}

function quantile(sorted: number[], q: number): number {
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** Population skewness (the biased estimator, as scipy.stats.skew). */
function skewness(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  let m2 = 0;
  let m3 = 0;
  for (const v of values) {
    m2 += (v - mean) ** 2;
    m3 += (v - mean) ** 3;
  }
  m2 /= values.length;
  m3 /= values.length;
  return m3 / m2 ** 1.5;
}

/**
 * Scores `rows` (one array of column values each). A missing value (null or NaN) counts as the
 * rarest value its column could hold: -log(1/n), with n the number of rows.
 */
export function ecod(rows: (number | null)[][], columns: string[], contamination = 0.05, topColumns = 3): OutlierReport {
  const n = rows.length;
  const perColumn: number[][] = rows.map(() => []);
  const used: string[] = [];
  const constantColumns: string[] = [];
  columns.forEach((column, j) => {
    const known = rows.map((r) => r[j]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (known.length === 0 || known.every((v) => v === known[0])) {
      constantColumns.push(column);
      return;
    }
    used.push(column);
    const sorted = [...known].sort((a, b) => a - b);
    const atMost = (x: number) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid] <= x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const atLeast = (x: number) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid] < x) lo = mid + 1;
        else hi = mid;
      }
      return sorted.length - lo;
    };
    const sign = Math.sign(skewness(known));
    rows.forEach((row, i) => {
      const v = row[j];
      if (v === null || !Number.isFinite(v)) {
        perColumn[i].push(Math.log(n));
        return;
      }
      const left = -Math.log(atMost(v) / known.length);
      const right = -Math.log(atLeast(v) / known.length);
      // PyOD: U_skew = U_l * -sign(skew - 1) + U_r * sign(skew + 1).
      const skewed = left * -Math.sign(sign - 1) + right * Math.sign(sign + 1);
      perColumn[i].push(Math.max(left, right, skewed));
    });
  });
  const scores = perColumn.map((values) => values.reduce((a, b) => a + b, 0));
  const threshold = n === 0 ? 0 : quantile([...scores].sort((a, b) => a - b), 1 - contamination);
  const outliers = scores
    .map((score, index) => ({ score, index }))
    .filter((o) => o.score > threshold)
    .sort((a, b) => b.score - a.score)
    .map(({ score, index }) => ({
      index,
      score,
      columns: perColumn[index]
        .map((contribution, k) => ({ column: used[k], contribution }))
        .sort((a, b) => b.contribution - a.contribution)
        .slice(0, topColumns),
    }));
  return { scores, threshold, outliers, constantColumns };
}
