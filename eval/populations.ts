/**
 * The FIQA gate (detection → occlusion → quality) on every population of both shared photo sets,
 * reported separately: a verdict is only as good as its worst population. Part of `npm run eval`.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../src/config';
import { type FiqaOutcome, fiqaVerdict } from '../src/gate/fiqa';
import type { ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, assess } from '../src/pipeline/analyze';
import { OCCLUSION_REGIONS, type OcclusionRegion } from '../src/pipeline/occlusion';
import { extraAvailable, extraPopulations, faceManifest, facePath, facesAvailable, isCleanFrontal, isCopy } from './dataset';

export interface Population {
  name: string;
  /** Whether its faces are covered (a mask): then "occluded" is the right answer, "accepted" never is. */
  covered: boolean;
  paths: string[];
}

/** The populations, each a folder or a label of the shared sets; absent sets are left out. */
export function populations(): Population[] {
  const list: Population[] = [];
  if (facesAvailable) {
    const records = faceManifest().filter((r) => !isCopy(r));
    list.push({ name: 'shared set: clean frontal portraits', covered: false, paths: records.filter(isCleanFrontal).map((r) => facePath(r.file)) });
    list.push({ name: 'shared set: masked', covered: true, paths: records.filter((r) => r.faces === 1 && r.occlusion?.includes('mask')).map((r) => facePath(r.file)) });
  }
  if (extraAvailable) {
    for (const { set, masked, paths } of extraPopulations()) {
      const kind = masked === undefined ? '' : masked ? (set === 'masks' ? ': masked (pasted)' : ': masked') : ': bare';
      list.push({ name: `faces-extra ${set}${kind}`, covered: masked === true, paths });
    }
  }
  return list;
}

export interface PopulationResult {
  population: Population;
  outcomes: Record<FiqaOutcome, number>;
  /** Faces that reached the occlusion step, and how many flagged each region. */
  oneFace: number;
  regionFlags: Record<OcclusionRegion, number>;
  /** Unoccluded faces the glasses signal calls bespectacled, and how many of them were accepted. */
  glasses: { faces: number; accepted: number };
  unreadable: number;
}

export async function measurePopulation(population: Population, models: ModelRegistry, options: AnalysisOptions, config: Config): Promise<PopulationResult> {
  const outcomes: Record<FiqaOutcome, number> = { accepted: 0, face_count: 0, occluded: 0, low_quality: 0 };
  const regionFlags = Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, 0])) as Record<OcclusionRegion, number>;
  const glasses = { faces: 0, accepted: 0 };
  let oneFace = 0;
  let unreadable = 0;
  for (const path of population.paths) {
    let analysis;
    try {
      analysis = await assess(readFileSync(path), models, options);
    } catch {
      unreadable++;
      continue;
    }
    const verdict = fiqaVerdict(analysis, config.gate.fiqa);
    outcomes[verdict.outcome]++;
    if (!verdict.occlusion) continue;
    oneFace++;
    for (const region of OCCLUSION_REGIONS) if (verdict.occlusion.regions[region]) regionFlags[region]++;
    const face = analysis.faces.find((f) => f.detection.confidence >= config.gate.fiqa.detection);
    if (face && !verdict.occlusion.occluded && face.geometry.glassesScore >= config.gate.photo.glasses) {
      glasses.faces++;
      if (verdict.outcome === 'accepted') glasses.accepted++;
    }
  }
  return { population, outcomes, oneFace, regionFlags, glasses, unreadable };
}

type Say = (line?: string) => void;
type Table = (header: string[], rows: (string | number)[][]) => void;

export async function populationsSection(models: ModelRegistry, options: AnalysisOptions, config: Config, say: Say, table: Table): Promise<void> {
  const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)}% (${n})` : '–');
  say('## FIQA per population');
  say();
  say(`Every image of each population through \`assess\` and the Nodeflux gate at the default thresholds (detection ${config.gate.fiqa.detection}, occlusion ${config.gate.fiqa.occlusion}, IQA ${config.gate.fiqa.iqa}). "Face count" means no face or several; "IQA accepted" is the share of unoccluded single faces whose quality passes. The shipped occlusion and quality models were fitted on these sets, so for faces of people never seen the cross-validated figures of docs/occlusion.md and docs/quality.md are the ones to trust; these show what the shipped gate does.`);
  say();
  const results: PopulationResult[] = [];
  for (const population of populations()) results.push(await measurePopulation(population, models, options, config));
  table(
    ['population', 'images', 'accepted', 'face count', 'occluded', 'low quality', 'IQA accepted'],
    results.map((r) => {
      const n = r.population.paths.length - r.unreadable;
      const o = r.outcomes;
      return [r.population.name, n, pct(o.accepted, n), pct(o.face_count, n), pct(o.occluded, n), pct(o.low_quality, n), pct(o.accepted, o.accepted + o.low_quality)];
    }),
  );
  say('Regions flagged on the single faces of the uncovered populations (each a false flag there):');
  say();
  const bare = results.filter((r) => !r.population.covered);
  table(
    ['population', 'single faces', ...OCCLUSION_REGIONS],
    bare.map((r) => [r.population.name, r.oneFace, ...OCCLUSION_REGIONS.map((region) => pct(r.regionFlags[region], r.oneFace))]),
  );
  const glasses = bare.reduce((sum, r) => ({ faces: sum.faces + r.glasses.faces, accepted: sum.accepted + r.glasses.accepted }), { faces: 0, accepted: 0 });
  say(`Unoccluded single faces of the uncovered populations that the glasses signal calls bespectacled (≥ ${config.gate.photo.glasses}): ${glasses.faces}, of which ${pct(glasses.accepted, glasses.faces)} accepted. Glasses are not occlusion for FIQA; QI Tech's rules refuse them as \`wearing_acessories\`.`);
  say();
}
