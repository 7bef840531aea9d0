import sharp from 'sharp';
import { ecod, type OutlierReport } from '../../src/gate/outliers';
import { ISO_COMPONENT_NAMES } from '../../src/gate/iso29794';
import { ISO_FIELDS, type Profile } from '../../src/scan/profile';
import { REPORT_SECTIONS, type ReportInput, scanReport } from '../../src/scan/report';

const ROWS = 60;
const NO_FACE_ROWS = [7, 23, 41];
const EXTREME_ROWS = [12, 50];
const HOSTILE_FILE = '<script>alert("x")</script>.jpg';
const OCCLUSION = ['cheek_left', 'cheek_right', 'chin', 'eye_left', 'eye_right', 'forehead', 'mouth', 'nose'];

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function poseLabel(degrees: number, negative: string, positive: string): string {
  if (Math.abs(degrees) < 5) return 'Forward';
  return degrees < 0 ? negative : positive;
}

function faceProfile(file: string, random: () => number, extreme: boolean): Profile {
  const spread = (centre: number, width: number) => centre + (random() - 0.5) * width * (extreme ? 12 : 1);
  const yaw = spread(0, 16);
  const pitch = spread(0, 10);
  const roll = spread(0, 6);
  const left = Math.round(spread(240, 40));
  const upper = Math.round(spread(140, 30));
  return {
    file,
    image_height: 480,
    image_width: 640,
    confidence: Math.min(1, spread(0.93, 0.1)),
    bbox_left: left,
    bbox_upper: upper,
    bbox_right: left + 160,
    bbox_lower: upper + 200,
    smile: random() < 0.3,
    eye_closed_left: random() < 0.1,
    eye_closed_right: random() < 0.1,
    ipd: Math.round(spread(64, 8)),
    pupil_right_x: Math.round(spread(48, 6)),
    pupil_right_y: Math.round(spread(80, 6)),
    pupil_left_x: Math.round(spread(112, 6)),
    pupil_left_y: Math.round(spread(80, 6)),
    yaw_pose: poseLabel(yaw, 'Left', 'Right'),
    yaw_degree: yaw,
    pitch_pose: poseLabel(pitch, 'Down', 'Up'),
    pitch_degree: pitch,
    roll_pose: poseLabel(roll, 'Left', 'Right'),
    roll_degree: roll,
    glasses: random() < 0.2,
    face_count: 1,
    iqa_score: spread(0.7, 0.2),
    face_ratio: spread(0.1, 0.04),
    sharpness: spread(120, 60),
    brightness: spread(0.5, 0.2),
    noise: spread(0.02, 0.01),
    ...Object.fromEntries(OCCLUSION.map((region) => [`occlusion_${region}`, Math.max(0, spread(0.05, 0.06))])),
    // The ISO scalars from 40 to 99 by row (file number), native values a tenth of them; head coverings fail as in bqatProfile.
    ...Object.fromEntries(
      ISO_COMPONENT_NAMES.flatMap((name) => {
        const scalar = name === 'NoHeadCoverings' ? -1 : 40 + Number(file.match(/\d+/)?.[0] ?? 0);
        return [[name, scalar < 0 ? null : scalar / 10], [`${name}.scalar`, scalar]];
      }),
    ),
  };
}

/** As `bqatProfile` makes it: the face fields all null, every ISO scalar −1. */
function withoutFace(face: Profile): Profile {
  const nulls = Object.fromEntries(Object.keys(face).map((key) => [key, key.endsWith('.scalar') ? -1 : null]));
  return { ...nulls, file: face.file, image_height: face.image_height, image_width: face.image_width, face_count: 0 };
}

function syntheticProfiles(): Profile[] {
  const random = seeded(7);
  return Array.from({ length: ROWS }, (_, i) => {
    const file = EXTREME_ROWS[0] === i ? HOSTILE_FILE : `face_${String(i).padStart(3, '0')}.jpg`;
    const face = faceProfile(file, random, EXTREME_ROWS.includes(i));
    return NO_FACE_ROWS.includes(i) ? withoutFace(face) : face;
  });
}

/** As the scan scores them (src/scan/outliers.ts): the ISO components left out. */
function ecodOnNumericColumns(profiles: Profile[], contamination: number): OutlierReport {
  const columns = [...new Set(profiles.flatMap((p) => Object.keys(p)))]
    .filter((c) => profiles.some((p) => typeof p[c] === 'number') && !ISO_FIELDS.includes(c));
  const rows = profiles.map((p) => columns.map((c) => (typeof p[c] === 'number' ? (p[c] as number) : null)));
  return ecod(rows, columns, contamination);
}

async function tinyJpeg(shade: number): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 6, channels: 3, background: { r: shade, g: 90, b: 140 } } }).jpeg().toBuffer();
}

async function syntheticInput(): Promise<ReportInput> {
  const profiles = syntheticProfiles();
  const contamination = 0.1;
  const outliers = ecodOnNumericColumns(profiles, contamination);
  const thumbnails = new Map<string, Buffer>();
  for (const [i, o] of outliers.outliers.entries()) thumbnails.set(String(profiles[o.index].file), await tinyJpeg(20 * i));
  return {
    collection: 'synthetic & <b>sample</b>',
    createdAt: '2026-11-20T10:00:00.000Z',
    finishedAt: '2026-11-20T10:01:30.000Z',
    profiles,
    failures: [{ file: 'broken<1>.jpg', error: 'not a JPEG' }],
    outliers,
    contamination,
    thumbnails,
  };
}

/** The HTML of `<section id="id">` up to its closing tag. */
function sectionHtml(html: string, id: string): string {
  const match = new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`).exec(html);
  if (!match) throw new Error(`no section ${id}`);
  return match[1];
}

function tableRows(sectionBody: string): string[] {
  return [...sectionBody.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]);
}

describe('scan report', () => {
  let input: ReportInput;
  let html: string;

  beforeAll(async () => {
    input = await syntheticInput();
    html = await scanReport(input);
  });

  it('has every section, in order, with charts in the chart sections', () => {
    const ids = [...html.matchAll(/<section id="([^"]+)">/g)].map((m) => m[1]);
    expect(ids).toEqual([...REPORT_SECTIONS]);
    for (const id of ['distributions', 'iso-29794-5', 'missing-values', 'correlations', 'pose']) {
      expect(sectionHtml(html, id)).toContain('<svg');
    }
    for (const id of REPORT_SECTIONS) expect(sectionHtml(html, id)).toMatch(/^\s*<h2>/);
  });

  it('counts images by faces and lists the failures', () => {
    const overview = sectionHtml(html, 'overview');
    expect(overview).toContain('<dt>Images profiled</dt><dd>60</dd>');
    expect(overview).toContain('<dt>With one face</dt><dd>57</dd>');
    expect(overview).toContain('<dt>With no face</dt><dd>3</dd>');
    expect(overview).toContain('<dt>Failed to read</dt><dd>1</dd>');
    expect(overview).toContain('<td>broken&lt;1&gt;.jpg</td><td>not a JPEG</td>');
  });

  it('draws one chart per column except file, and says "no values" for a column that has none', async () => {
    const profiles = input.profiles.map((p) => ({ ...p, antispoof: null }));
    const distributions = sectionHtml(await scanReport({ ...input, profiles }), 'distributions');
    const columns = new Set(profiles.flatMap((p) => Object.keys(p)));
    const figures = [...distributions.matchAll(/<figure><figcaption><code>([^<]+)<\/code>/g)].map((m) => m[1]);
    // The ISO components have their own section.
    expect(figures).toEqual([...columns].filter((c) => c !== 'file' && !ISO_FIELDS.includes(c)));
    const antispoof = /<figcaption><code>antispoof<\/code><\/figcaption>([\s\S]*?)<\/figure>/.exec(distributions);
    expect(antispoof?.[1]).toContain('no values');
    expect(antispoof?.[1]).not.toContain('<svg');
  });

  it('reports the right missing count for a face column, in the chart and in the summary table', () => {
    expect(sectionHtml(html, 'missing-values')).toContain('aria-label="ipd: 3 missing"');
    expect(sectionHtml(html, 'missing-values')).toContain('aria-label="image_width: 0 missing"');
    const ipdRow = tableRows(sectionHtml(html, 'overview')).find((row) => row.includes('<code>ipd</code>'));
    const [count, missing] = [...(ipdRow ?? '').matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect([count, missing]).toEqual(['57', '3']);
  });

  it('shows Pearson correlations on the lower triangle, without constant columns', () => {
    const correlations = sectionHtml(html, 'correlations');
    // bbox_right is bbox_left + 160 in every face profile.
    expect(correlations).toContain('aria-label="bbox_left and bbox_right: r = 1.00"');
    expect(correlations).not.toContain('aria-label="bbox_right and bbox_left:');
    expect(correlations).toContain('aria-label="ipd and ipd: r = 1.00"');
    expect(correlations).toContain('>ipd</text>');
    expect(correlations).not.toContain('image_width');
  });

  it('lists every outlier with its thumbnail as a data URI, its score and its unusual columns', () => {
    const { outliers } = input.outliers;
    expect(outliers.length).toBeGreaterThanOrEqual(2);
    const flagged = outliers.map((o) => o.index);
    for (const row of EXTREME_ROWS) expect(flagged).toContain(row);
    const rows = tableRows(sectionHtml(html, 'outliers')).slice(1);
    expect(rows).toHaveLength(outliers.length);
    outliers.forEach((outlier, i) => {
      const file = String(input.profiles[outlier.index].file);
      const jpeg = input.thumbnails.get(file) as Buffer;
      expect(rows[i]).toContain(`<img src="data:image/jpeg;base64,${jpeg.toString('base64')}"`);
      expect(rows[i]).toContain(outlier.columns[0].column);
    });
  });

  it('says so plainly when there are no outliers', async () => {
    const none = { ...input.outliers, outliers: [] };
    const outliers = sectionHtml(await scanReport({ ...input, outliers: none }), 'outliers');
    expect(outliers).toContain('No outliers');
    expect(outliers).not.toContain('<table');
  });

  it('escapes file names and collection names', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>sample');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.jpg');
    expect(html).toContain('synthetic &amp; &lt;b&gt;sample&lt;/b&gt;');
  });

  it('escapes profile strings inside the charts too', async () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const profiles = input.profiles.map((p, i) => (i === 0 ? { ...p, yaw_pose: hostile } : p));
    const distributions = sectionHtml(await scanReport({ ...input, profiles }), 'distributions');
    expect(distributions).not.toContain('<img');
    expect(distributions).toContain('&lt;img');
  });

  it('references no external resource', () => {
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/@import/i);
  });
  it('gives the ISO/IEC 29794-5 components their own section: per component, assessed and failed counts and the scalar distribution of the assessed images only', () => {
    const iso = sectionHtml(html, 'iso-29794-5');
    const rows = tableRows(iso).slice(1);
    expect(rows.map((row) => /<code>([^<]+)<\/code>/.exec(row)?.[1])).toEqual(ISO_COMPONENT_NAMES);
    const cells = (row: string) => [...row.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1]);
    const faces = ROWS - NO_FACE_ROWS.length;
    // The face-free rows' -1 (failed to assess) stay out of the figures.
    const assessed = input.profiles.map((p) => p['UnifiedQualityScore.scalar'] as number).filter((v) => v >= 0);
    expect(assessed).toHaveLength(faces);
    const mean = assessed.reduce((s, v) => s + v, 0) / assessed.length;
    expect(cells(rows[0]).slice(1, 5)).toEqual([String(faces), String(NO_FACE_ROWS.length), String(Number(mean.toPrecision(4))), '40']);
    expect(cells(rows[ISO_COMPONENT_NAMES.indexOf('NoHeadCoverings')]).slice(1, 4)).toEqual(['0', String(ROWS), '–']);
    // Not repeated among the generic columns' histograms and summaries.
    expect(sectionHtml(html, 'distributions')).not.toContain('UnifiedQualityScore');
    expect(sectionHtml(html, 'overview')).not.toContain('UnifiedQualityScore');
  });
});
