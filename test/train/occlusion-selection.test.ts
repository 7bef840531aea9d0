import { fitLogistic, predict } from '../../train/logistic';
import { groupPeople, labelsOf, type Sample } from '../../train/occlusion-data';
import { fitLogisticOnnx } from '../../train/occlusion-fit';
import { choose, crossValidate, fitLogisticJs, foldsOf, type LabelledSample, type SettingScore } from '../../train/occlusion-selection';
import { OCCLUSION_REGIONS } from '../../src/pipeline/occlusion';
import { seededRandom } from '../helpers/random';

describe('occlusion model selection', () => {
  it('deals whole people round-robin in the given order', () => {
    const order: Record<string, number> = { ann: 5, bob: 1, cy: 9, dee: 3, eve: 7 };
    const fold = foldsOf(['cy', 'ann', 'bob', 'ann', 'dee', 'eve', 'bob'], 2, (p) => order[p]);
    expect([...fold.entries()]).toEqual([
      ['bob', 0],
      ['dee', 1],
      ['ann', 0],
      ['eve', 1],
      ['cy', 0],
    ]);
  });

  describe('cross-validation', () => {
    // Output 0 is positive when feature 0 is far from normal; output 1 is noise and not scored.
    // One more person is occluded differently (feature 1 far from normal): only a fit that saw
    // that person could learn it, so their positives count as misses when kept out of the fit.
    const random = seededRandom(11);
    const people = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'odd'];
    const samples: LabelledSample[] = people.flatMap((person) =>
      Array.from({ length: 60 }, (_, n) => {
        const occluded = n % 3 === 0;
        const features = Float32Array.from({ length: 4 }, () => random() * 2 - 1);
        if (occluded) features[person === 'odd' ? 1 : 0] = 3 + random();
        return { person, features, labels: [occluded ? 1 : 0, random() < 0.5 ? 1 : 0], clean: n % 6 === 1, population: 'bare' };
      }),
    );
    // Covered photos: really occluded faces (feature 0 far from normal) tallied per population, not in the recall.
    const covered: LabelledSample[] = people.flatMap((person) =>
      Array.from({ length: 5 }, () => {
        const features = Float32Array.from({ length: 4 }, () => random() * 2 - 1);
        features[0] = 3 + random();
        return { person, features, labels: [1, Number.NaN], clean: false, covered: true, population: 'masked' };
      }),
    );
    // Tallied samples (drawn clear eyeglasses): counted in their population's flagged share, not as clean photos.
    const tallied: LabelledSample[] = people.map((person) => ({ person, features: Float32Array.from({ length: 4 }, () => random() * 2 - 1), labels: [0, Number.NaN], clean: false, tallied: true, population: 'eyeglasses' }));
    const fold = foldsOf(people, 3, (p) => people.indexOf(p));
    let scores: SettingScore[] = [];
    let onnxScores: SettingScore[] = [];
    beforeAll(async () => {
      const grid = [{ l2: 0.01, positiveShare: 0.5 }, { l2: 1e4, positiveShare: 0.5 }];
      scores = await crossValidate([...samples, ...covered, ...tallied], fold, grid, { epochs: 200, rate: 0.05 }, 1, 0.6);
      onnxScores = await crossValidate([...samples, ...covered, ...tallied], fold, grid, { epochs: 200, rate: 0.05 }, 1, 0.6, undefined, fitLogisticOnnx);
    });

    it('measures recall and clean flags on people left out of the fit', () => {
      const [light] = scores;
      expect(light.recall).toHaveLength(1);
      // 120 positives of the six usual people found, the odd person's 20 missed: about 120 / 140.
      expect(light.recall[0]).toBeGreaterThan(0.8);
      expect(light.recall[0]).toBeLessThan(0.9);
      expect(light.cleanCount).toBe(70);
      expect(light.cleanFlagged).toBeLessThan(0.05);
      expect(light.populations.bare.count).toBe(70);
      expect(light.populations.masked).toEqual({ count: 35, flagged: 35 });
      expect(light.populations.eyeglasses.count).toBe(7);
      expect(light.populations.eyeglasses.flagged).toBeLessThanOrEqual(1);
    });

    it('gives the same figures when onnxruntime computes the gradients', () => {
      expect(onnxScores.map((s) => s.recall)).toEqual(scores.map((s) => s.recall));
      expect(onnxScores.map((s) => s.populations)).toEqual(scores.map((s) => s.populations));
    });

    it('shows a setting that cannot fit losing recall', () => {
      expect(scores[1].recall[0]).toBeLessThan(scores[0].recall[0]);
    });
  });

  describe('choice', () => {
    const score = (l2: number, recall: number[], cleanFlagged: number): SettingScore => ({ settings: { l2, positiveShare: 0.5 }, recall, cleanFlagged, cleanCount: 40, populations: {} });

    it('takes the best weakest-region recall among settings within the clean-flag limit', () => {
      const scores = [score(0.1, [0.99, 0.8], 0.02), score(0.3, [0.9, 0.88], 0.05), score(0.6, [0.95, 0.95], 0.1)];
      expect(choose(scores, 0.05).settings.l2).toBe(0.3);
    });

    it('falls back to the fewest clean flags when no setting is within the limit, then to recall', () => {
      const scores = [score(0.1, [0.99, 0.99], 0.3), score(0.3, [0.5, 0.5], 0.2), score(0.6, [0.9, 0.9], 0.25)];
      expect(choose(scores, 0.05).settings.l2).toBe(0.3);
      expect(choose([...scores, score(1.2, [0.6, 0.7], 0.2)], 0.05).settings.l2).toBe(1.2);
    });
  });

  describe('fitting with onnxruntime', () => {
    it('fits the same model as fitLogistic', async () => {
      const random = seededRandom(5);
      const inputs = Array.from({ length: 300 }, () => Float32Array.from({ length: 6 }, () => random() * 2 - 1));
      const labels = inputs.map((x) => [x[0] + x[1] * x[1] > 0.4 ? 1 : 0, x[2] > 0 ? 1 : Number.NaN]);
      const options = { epochs: 50, rate: 0.05, l2: 0.3, positiveShare: 0.6 };
      const js = fitLogistic(inputs, labels, inputs.slice(0, 100), options);
      const onnx = await fitLogisticOnnx(inputs, labels, inputs.slice(0, 100), options);
      for (const x of inputs.slice(0, 20)) {
        const [a, b] = [predict(js, x), predict(onnx, x)];
        for (let o = 0; o < a.length; o++) expect(b[o]).toBeCloseTo(a[o], 4);
      }
    });

    it('weighs samples within their class: doubling every weight changes nothing, weighing some negatives more changes the fit', async () => {
      const random = seededRandom(6);
      const inputs = Array.from({ length: 200 }, () => Float32Array.from({ length: 4 }, () => random() * 2 - 1));
      const labels = inputs.map((x) => [x[0] + 0.5 * (random() - 0.5) > 0 ? 1 : 0]);
      const options = { epochs: 60, rate: 0.05, l2: 0.1 };
      const plain = await fitLogisticOnnx(inputs, labels, inputs, options);
      const doubled = await fitLogisticOnnx(inputs, labels, inputs, { ...options, weights: inputs.map(() => 2) });
      const negativesHeavier = await fitLogisticOnnx(inputs, labels, inputs, { ...options, weights: labels.map(([y]) => (y === 0 && random() < 0.5 ? 5 : 1)) });
      const mean = (m: typeof plain) => inputs.reduce((t, x) => t + predict(m, x)[0], 0) / inputs.length;
      expect(mean(doubled)).toBeCloseTo(mean(plain), 5);
      expect(mean(negativesHeavier)).not.toBeCloseTo(mean(plain), 3);
      await expect(fitLogisticJs(inputs, labels, inputs, { ...options, weights: inputs.map(() => 2) })).rejects.toThrow(/no sample weights/);
    });
  });

  describe('faces-extra people and labels', () => {
    it('keeps a masked file with its same-number bare file and joins near-identical faces', () => {
      const e = (v: number[]) => v;
      const people = groupPeople(
        [
          { file: 'masks/bare/12.jpg', population: 'masks-bare', embedding: e([1, 0, 0]) },
          { file: 'masks/masked/12-with-mask.jpg', population: 'masks-masked', embedding: e([0, 1, 0]) },
          { file: 'masks/bare/augmented_image_3.jpg', population: 'masks-bare', embedding: e([0.8, 0.6, 0]) },
          { file: 'masks-real/bare/abc.jpg', population: 'real-bare', embedding: e([0.6, 0.8, 0]) },
          { file: 'masks-real/bare/def.jpg', population: 'real-bare', embedding: e([0, 0.8, 0.6]) },
        ],
        { 'masks-bare': 0.5, 'real-bare': 0.7 },
      );
      expect(people.get('masks/masked/12-with-mask.jpg')).toBe(people.get('masks/bare/12.jpg'));
      expect(people.get('masks/bare/augmented_image_3.jpg')).toBe(people.get('masks/bare/12.jpg'));
      // Only within a population, and at that population's level (0.64 < 0.7).
      expect(people.get('masks-real/bare/abc.jpg')).not.toBe(people.get('masks/bare/12.jpg'));
      expect(people.get('masks-real/bare/abc.jpg')).not.toBe(people.get('masks-real/bare/def.jpg'));
    });

    it('labels masked faces at the mask regions only, and clear eyeglasses as no occlusion', () => {
      const coverage = Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, 0])) as Sample['coverage'];
      const sample = (over: Partial<Sample>): Sample => ({ kind: 'none', person: 'p', pooled: new Float32Array(1), handmade: new Float32Array(1), coverage, glasses: false, ...over });
      const at = (labels: number[], region: string) => labels[OCCLUSION_REGIONS.indexOf(region as (typeof OCCLUSION_REGIONS)[number])];
      const real = labelsOf(sample({ population: 'real-masked' }));
      expect(['mouth', 'nose', 'chin', 'cheek_left', 'cheek_right'].map((r) => at(real, r))).toEqual([1, 1, 1, 1, 1]);
      expect(at(real, 'eye_left')).toBeNaN();
      expect(at(real, 'forehead')).toBeNaN();
      expect(real[OCCLUSION_REGIONS.length]).toBeNaN();
      const pasted = labelsOf(sample({ population: 'masks-masked' }));
      expect(at(pasted, 'eyebrow_right')).toBe(0);
      const shared = labelsOf(sample({ kind: 'eyeglasses', glasses: true, coverage: { ...coverage, eyebrow_left: 0.6, eye_left: 0.2 } }));
      expect(shared).toEqual([...OCCLUSION_REGIONS.map(() => 0), 1]);
    });
  });
});
