import { toCsv } from '../../src/scan/csv';
import { numericColumns, profileOutliers } from '../../src/scan/outliers';

describe('toCsv', () => {
  it('writes a header, empty cells for null, and quotes what needs quoting', () => {
    const csv = toCsv([{ file: 'a,"b".jpg', ipd: 61, smile: false, note: null }], ['file', 'ipd', 'smile', 'note']);
    expect(csv).toBe('file,ipd,smile,note\r\n"a,""b"".jpg",61,false,\r\n');
  });

  it('keeps a spreadsheet from running a file name as a formula, but leaves negative numbers alone', () => {
    const csv = toCsv([{ file: '=HYPERLINK("x")', yaw: -12.5 }], ['file', 'yaw']);
    expect(csv.split('\r\n')[1]).toBe(`"'=HYPERLINK(""x"")",-12.5`);
  });
});

describe('profileOutliers', () => {
  const profile = (file: string, ipd: number | null, glasses: boolean | null) => ({ file, ipd, glasses, yaw_pose: 'Forward' });

  it('scores numbers and yes/no columns, not text', () => {
    expect(numericColumns([profile('a', null, null), profile('b', 60, true)])).toEqual(['ipd', 'glasses']);
  });

  it('finds the profile with missing face fields among ordinary ones', () => {
    const profiles = [...Array.from({ length: 19 }, (_, i) => profile(`f${i}`, 60 + (i % 5), i % 2 === 0)), profile('empty', null, null)];
    const found = profileOutliers(profiles, 0.05);
    expect(found.columns).toEqual(['ipd', 'glasses']);
    expect(found.outliers.map((o) => profiles[o.index].file)).toEqual(['empty']);
    expect(found.outliers[0].score).toBeCloseTo(2 * Math.log(20), 10);
  });
});
