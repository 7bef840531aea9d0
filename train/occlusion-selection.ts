/**
 * Chooses the occlusion model's fitting settings by cross-validation over the training identities,
 * so the held-out identities of `npm run eval` take no part in the choice.
 */
import { fitLogistic, predict } from './logistic';
import type { Fitter } from './occlusion-fit';

export interface FitSettings {
  l2: number;
  positiveShare: number;
  /** How much a clean (bare) photo weighs against any other sample of its class; 1 when absent. Needs a Fitter that takes weights (fitLogisticOnnx). */
  cleanWeight?: number;
}

/**
 * One sample as the selection sees it: whose face it is, its features, its labels (1, 0 or NaN
 * per output), whether it is a clean (bare) photo, whether it is a photo of a really covered face
 * (a masked one: its positives are not drawn occluders, so they count in its population's flagged
 * share rather than in the regions' recall), and the population it is tallied in.
 */
export interface LabelledSample {
  person: string;
  features: Float32Array;
  labels: number[];
  clean: boolean;
  covered?: boolean;
  population?: string;
  /** Tallied in its population's flagged share although neither clean nor covered (drawn clear eyeglasses, which should not be flagged). */
  tallied?: boolean;
}

/** Photos of a population (clean or covered ones) and how many had any scored output at or above the threshold. */
export interface PopulationTally {
  count: number;
  flagged: number;
}

export interface SettingScore {
  settings: FitSettings;
  /** Recall at the threshold per scored output, pooled over the validation folds. */
  recall: number[];
  /** Share of clean validation photos with any scored output at or above the threshold. */
  cleanFlagged: number;
  cleanCount: number;
  /** Per population, the clean, covered and tallied samples flagged (held out, pooled over the folds). */
  populations: Record<string, PopulationTally>;
}

/** fitLogistic (train/logistic.ts) as a Fitter. */
export const fitLogisticJs: Fitter = async (inputs, labels, reference, options) => {
  if (options.weights?.some((w) => w !== 1)) throw new Error('fitLogistic takes no sample weights: use fitLogisticOnnx');
  return fitLogistic(inputs, labels, reference, options);
};

/** Each sample's weight under `settings`: cleanWeight for clean photos, 1 for the rest. */
export function sampleWeights(samples: { clean: boolean }[], settings: FitSettings): number[] {
  return samples.map((s) => (s.clean ? (settings.cleanWeight ?? 1) : 1));
}

/**
 * Deals people into `folds` groups, round-robin in the order of `order(person)`, so that each
 * fold holds whole people and about the same number of them.
 */
export function foldsOf(people: string[], folds: number, order: (person: string) => number): Map<string, number> {
  const unique = [...new Set(people)].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  return new Map(unique.map((person, i) => [person, i % folds]));
}

/**
 * Fits each setting once per fold on the other folds and scores the held-back fold. `scored` is
 * how many leading outputs the recall and the clean flags are measured on (the rest, such as
 * glasses, are fitted but not judged). Recall counts the positives of samples that are not
 * `covered` photos.
 */
export async function crossValidate(
  samples: LabelledSample[],
  fold: Map<string, number>,
  grid: FitSettings[],
  fit: { epochs: number; rate: number },
  scored: number,
  threshold: number,
  progress: (line: string) => void = () => undefined,
  fitter: Fitter = fitLogisticJs,
): Promise<SettingScore[]> {
  const folds = Math.max(...fold.values()) + 1;
  const results: SettingScore[] = [];
  for (const settings of grid) {
    const hits = new Array<number>(scored).fill(0);
    const positives = new Array<number>(scored).fill(0);
    let cleanFlags = 0;
    let cleanCount = 0;
    const populations: Record<string, PopulationTally> = {};
    for (let k = 0; k < folds; k++) {
      const train = samples.filter((s) => fold.get(s.person) !== k);
      const check = samples.filter((s) => fold.get(s.person) === k);
      const model = await fitter(
        train.map((s) => s.features),
        train.map((s) => s.labels),
        train.filter((s) => s.clean).map((s) => s.features),
        { ...fit, l2: settings.l2, positiveShare: settings.positiveShare, weights: sampleWeights(train, settings) },
      );
      for (const s of check) {
        const scores = predict(model, s.features);
        const flagged = scores.slice(0, scored).some((x) => x >= threshold);
        for (let o = 0; o < scored && !s.covered; o++) {
          if (s.labels[o] !== 1) continue;
          positives[o]++;
          if (scores[o] >= threshold) hits[o]++;
        }
        if (s.clean) {
          cleanCount++;
          if (flagged) cleanFlags++;
        }
        if ((s.clean || s.covered || s.tallied) && s.population !== undefined) {
          const tally = (populations[s.population] ??= { count: 0, flagged: 0 });
          tally.count++;
          if (flagged) tally.flagged++;
        }
      }
      progress(`  L2 ${settings.l2}, positives' share ${settings.positiveShare}: fold ${k + 1}/${folds} done`);
    }
    results.push({ settings, recall: hits.map((h, o) => h / positives[o]), cleanFlagged: cleanFlags / cleanCount, cleanCount, populations });
  }
  return results;
}

/**
 * The setting whose weakest output has the highest recall among those that flag at most
 * `maxCleanFlagged` of clean photos. When none does, the settings that flag the fewest clean
 * photos compete instead, on the same recall.
 */
export function choose(scores: SettingScore[], maxCleanFlagged: number): SettingScore {
  const weakest = (s: SettingScore) => Math.min(...s.recall);
  const fewest = Math.min(...scores.map((s) => s.cleanFlagged));
  const admitted = scores.filter((s) => s.cleanFlagged <= Math.max(maxCleanFlagged, fewest));
  return admitted.reduce((best, s) => (weakest(s) > weakest(best) ? s : best));
}
