/**
 * `npm run eval -- --only iso`: the ISO/IEC 29794-5 components (src/gate/iso29794.ts) on real
 * genuine comparisons. The named people's photos of both shared sets, clean and under each
 * degradation of eval/transforms.ts, are compared with the person's other clean photos at the
 * authentication threshold; for each component alone, the false non-match rate after discarding
 * the comparisons with the lowest scalars (error versus discard), ranked like the reference
 * implementation's evaluation; then where FaceGate's own measures (sharpness, compression,
 * expression, the unified score) reach the point where recognition starts to suffer, which their
 * mappings put at 50.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../src/config';
import { ISO_CALIBRATION, ISO_COMPONENT_NAMES, type IsoComponentName, isoAssessment } from '../src/gate/iso29794';
import type { ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, assess } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { similarity } from '../src/pipeline/embed';
import { extraAvailable, extraManifest, extraPath, faceManifest, facePath, facesAvailable, isCopy } from './dataset';
import { falseRejectRate } from './metrics';
import { DEGRADATIONS } from './transforms';

type Say = (text?: string) => void;
type Table = (headers: string[], rows: (string | number)[][]) => void;

/** The degradation strengths measured (of 1–4): the mild ones do not hurt recognition (docs/quality.md). */
const STRENGTHS = [2, 3, 4];
const SHARES_DISCARDED = [0.05, 0.1, 0.2];
/** Calibration windows: this many comparisons, sorted by the measure. */
const WINDOW = 100;
/** "Recognition starts to suffer": more than this share of a window's genuine comparisons fail (docs/quality.md). */
const SUFFERS_ABOVE = 0.1;

interface Sample {
  person: string;
  label: string;
  /** The degradation of eval/transforms.ts applied, or null for the photo as it is. */
  degradation: string | null;
  /** Per component, native value and scalar; scalar −1 when it failed to assess (a lost face fails every one). */
  components: Record<IsoComponentName, { native: number | null; scalar: number }>;
  embedding: Float32Array | null;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function sampleOf(bytes: Uint8Array, person: string, label: string, degradation: string | null, models: ModelRegistry, options: AnalysisOptions): Promise<Sample> {
  const analysis = await assess(bytes, models, { ...options, isoPixels: true });
  const { components } = isoAssessment(analysis);
  return {
    person,
    label,
    degradation,
    components: Object.fromEntries(components.map((c) => [c.name, { native: c.native, scalar: c.scalar }])) as Sample['components'],
    embedding: analysis.faces[0]?.embedding ?? null,
  };
}

/** The named people's photos with at least one other photo of the same person. */
function namedPhotos(): { person: string; path: string; file: string }[] {
  const photos: { person: string; path: string; file: string }[] = [];
  if (facesAvailable) for (const r of faceManifest()) if (r.identity && !isCopy(r)) photos.push({ person: r.identity, path: facePath(r.file), file: r.file });
  if (extraAvailable) for (const r of extraManifest()) if (r.set === 'identities' && r.identity) photos.push({ person: `extra:${r.identity}`, path: extraPath(r.file), file: r.file });
  const count = new Map<string, number>();
  for (const p of photos) count.set(p.person, (count.get(p.person) ?? 0) + 1);
  return photos.filter((p) => (count.get(p.person) ?? 0) > 1);
}

interface Comparison {
  similarity: number;
  /** Per component, the lower scalar of the two samples (the standard's pair quality). */
  quality: Record<IsoComponentName, number>;
  /** The degraded-or-clean sample's native values (its clean reference's are ordinary). */
  sample: Sample;
}

/** Each sample (with a face) against every other clean photo of its person. */
function comparisons(samples: Sample[]): Comparison[] {
  const clean = samples.filter((s) => s.degradation === null && s.embedding);
  const out: Comparison[] = [];
  for (const sample of samples) {
    for (const reference of clean) {
      if (reference.person !== sample.person || reference.label === sample.label) continue;
      const quality = Object.fromEntries(ISO_COMPONENT_NAMES.map((name) => [name, Math.min(sample.components[name].scalar, reference.components[name].scalar)])) as Comparison['quality'];
      out.push({ similarity: sample.embedding && reference.embedding ? similarity(sample.embedding, reference.embedding) : -1, quality, sample });
    }
  }
  return out;
}

/** FNMR at `threshold` after dropping the `share` of comparisons with the lowest `score` (ties in input order). */
function fnmrAfterDiscard(all: Comparison[], score: (c: Comparison) => number, share: number, threshold: number): number {
  const kept = [...all].sort((p, q) => score(p) - score(q)).slice(Math.round(share * all.length));
  return falseRejectRate(kept.map((c) => c.similarity), threshold);
}

/**
 * Where going down a measure recognition starts to suffer: the comparisons sorted from the best
 * native value to the worst, the first window of WINDOW whose share of false non-matches passes
 * SUFFERS_ABOVE; the native value at its middle.
 */
function suffersAt(all: Comparison[], native: (s: Sample) => number | null, higherIsBetter: boolean, threshold: number): number | null {
  const measured = all.filter((c) => native(c.sample) !== null).sort((p, q) => (higherIsBetter ? 1 : -1) * ((native(q.sample) as number) - (native(p.sample) as number)));
  for (let start = 0; start + WINDOW <= measured.length; start += WINDOW / 4) {
    const window = measured.slice(start, start + WINDOW);
    if (falseRejectRate(window.map((c) => c.similarity), threshold) > SUFFERS_ABOVE) return native(window[WINDOW / 2].sample);
  }
  return null;
}

export async function isoSection(models: ModelRegistry, options: AnalysisOptions, config: Config, say: Say, table: Table): Promise<void> {
  say('## ISO/IEC 29794-5 components');
  say();
  const threshold = config.recognition.threshold;
  const photos = namedPhotos();
  const samples: Sample[] = [];
  for (const photo of photos) {
    const bytes = readFileSync(photo.path);
    const clean = await sampleOf(bytes, photo.person, photo.file, null, models, options);
    samples.push(clean);
    if (!clean.embedding) continue;
    const image = await decodeImage(bytes, options.limits);
    const ipd = Math.max(1, clean.components.InterEyeDistance.native ?? 1);
    for (const [name, degrade] of Object.entries(DEGRADATIONS)) {
      for (const strength of STRENGTHS) samples.push(await sampleOf(await degrade(image, strength, ipd), photo.person, `${photo.file} ${name} ${strength}`, name, models, options));
    }
  }
  // A lost face fails every component alike and never matches: it would fill the lowest ranks of every component the same way.
  const all = comparisons(samples.filter((s) => s.embedding));
  const lost = samples.filter((s) => !s.embedding);
  const people = new Set(photos.map((p) => p.person)).size;
  const base = falseRejectRate(all.map((c) => c.similarity), threshold);
  say(
    `${photos.length} photos of ${people} named people (the shared set's and faces-extra's identities), each clean and under every degradation of \`eval/transforms.ts\` at strengths ${STRENGTHS.join(', ')}: ${samples.length} samples. ${lost.length} samples with no face found (${[...new Set(lost.map((s) => s.degradation ?? 'clean'))].join(', ')}) are left out: every component fails to assess them alike. Each other sample is compared with every other clean photo of its person: ${all.length} genuine comparisons, ${pct(base)} under the authentication threshold ${threshold}. A comparison's quality is the lower scalar of its two photos (a failure to assess, −1, lowest); the comparisons of lowest quality are discarded first. Components ranked by the FNMR left after discarding 10%, then 20%; NoHeadCoverings, never assessed, is left out.`,
  );
  say();
  const rows = ISO_COMPONENT_NAMES.filter((name) => name !== 'NoHeadCoverings').map((name) => ({ name, fnmr: SHARES_DISCARDED.map((share) => fnmrAfterDiscard(all, (c) => c.quality[name], share, threshold)) }));
  rows.sort((p, q) => p.fnmr[1] - q.fnmr[1] || p.fnmr[2] - q.fnmr[2]);
  table(
    ['rank', 'component', 'FNMR, none discarded', ...SHARES_DISCARDED.map((s) => `after discarding ${pct(s)}`)],
    rows.map((row, i) => [i + 1, row.name, pct(base), ...row.fnmr.map(pct)]),
  );
  say(
    'Where FaceGate\'s own measures start to cost recognition: the comparisons of the clean photos and of the degradation the measure is for (other degradations move a measure for other reasons: noise raises the Laplacian), sorted from the best native value, in windows of ' +
      `${WINDOW}; the first window with more than ${pct(SUFFERS_ABOVE)} false non-matches, against the native value each mapping puts at 50:`,
  );
  say();
  const of = (degradation: string | null) => all.filter((c) => c.sample.degradation === null || c.sample.degradation === degradation);
  // Expression is the subject's, not the camera's: it is judged on the clean photos alone.
  const calibrated: [IsoComponentName, boolean, number, string, Comparison[]][] = [
    ['UnifiedQualityScore', true, ISO_CALIBRATION.unifiedSuffersAt, 'all', all],
    ['Sharpness', true, ISO_CALIBRATION.sharpness.x0, 'clean and blur', of('blur')],
    ['CompressionArtifacts', false, ISO_CALIBRATION.compression.x0, 'clean and JPEG', of('jpeg')],
    ['ExpressionNeutrality', true, ISO_CALIBRATION.expression.x0, 'clean', of(null)],
  ];
  table(
    ['component', 'comparisons', 'under the threshold', 'native value where recognition starts to suffer', 'native value at scalar 50'],
    calibrated.map(([name, higherIsBetter, at50, which, set]) => {
      const found = suffersAt(set, (s) => s.components[name].native, higherIsBetter, threshold);
      return [name, `${which}: ${set.length}`, pct(falseRejectRate(set.map((c) => c.similarity), threshold)), found === null ? 'never (no window passes)' : found.toFixed(3), at50];
    }),
  );
}
