import { ecod } from '../../src/gate/outliers';

const ln = Math.log;

describe('ECOD', () => {
  it('scores one right-skewed column as computed by hand', () => {
    // ECDF left: .2 .4 .6 .8 1; right: 1 .8 .6 .4 .2; positive skew, so the skew term is the right tail.
    const { scores } = ecod([[1], [2], [3], [4], [100]], ['x']);
    const expected = [-ln(0.2), -ln(0.4), -ln(0.6), -ln(0.4), -ln(0.2)];
    scores.forEach((s, i) => expect(s).toBeCloseTo(expected[i], 10));
  });

  it('adds both tails where a column is symmetric (zero skewness), as PyOD does', () => {
    const { scores } = ecod([[1], [2], [3]], ['x']);
    // Left ECDF 1/3, 2/3, 1; right 1, 2/3, 1/3; skewness 0, so the skew term is U_l + U_r.
    const expected = [-ln(1 / 3), -ln(2 / 3) * 2, -ln(1 / 3)];
    scores.forEach((s, i) => expect(s).toBeCloseTo(expected[i], 10));
  });

  it('sums columns, flags the contamination share and names the columns that make a row unusual', () => {
    const rows = Array.from({ length: 20 }, (_, i) => [10 + (i % 5), 50 + ((i * 7) % 11), 1]);
    rows[13] = [40, 500, 1];
    const report = ecod(rows, ['a', 'b', 'constant'], 0.05, 2);
    expect(report.constantColumns).toEqual(['constant']);
    expect(report.outliers.map((o) => o.index)).toEqual([13]);
    // Alone at the top of both right-skewed columns: -log(1/20) from each.
    expect(report.outliers[0].columns.map((c) => c.column).sort()).toEqual(['a', 'b']);
    for (const c of report.outliers[0].columns) expect(c.contribution).toBeCloseTo(-ln(1 / 20), 10);
    expect(report.outliers[0].score).toBeCloseTo(Math.max(...report.scores), 12);
  });

  it('treats a missing value as the rarest value of its column', () => {
    const rows: (number | null)[][] = [[1, 5], [2, 6], [3, 7], [4, 8], [null, null]];
    const { scores, outliers } = ecod(rows, ['a', 'b'], 0.2);
    expect(scores[4]).toBeCloseTo(2 * ln(5), 10);
    expect(outliers.map((o) => o.index)).toEqual([4]);
  });
});
