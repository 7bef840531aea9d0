import { choose, crossValidate, foldsOf, type LabelledSample, type SettingScore } from '../../train/occlusion-selection';
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
        return { person, features, labels: [occluded ? 1 : 0, random() < 0.5 ? 1 : 0], clean: n % 6 === 1 };
      }),
    );
    const fold = foldsOf(people, 3, (p) => people.indexOf(p));
    const scores = crossValidate(samples, fold, [{ l2: 0.01, positiveShare: 0.5 }, { l2: 1e4, positiveShare: 0.5 }], { epochs: 200, rate: 0.05 }, 1, 0.6);

    it('measures recall and clean flags on people left out of the fit', () => {
      const [light] = scores;
      expect(light.recall).toHaveLength(1);
      // 120 positives of the six usual people found, the odd person's 20 missed: about 120 / 140.
      expect(light.recall[0]).toBeGreaterThan(0.8);
      expect(light.recall[0]).toBeLessThan(0.9);
      expect(light.cleanCount).toBe(70);
      expect(light.cleanFlagged).toBeLessThan(0.05);
    });

    it('shows a setting that cannot fit losing recall', () => {
      expect(scores[1].recall[0]).toBeLessThan(scores[0].recall[0]);
    });
  });

  describe('choice', () => {
    const score = (l2: number, recall: number[], cleanFlagged: number): SettingScore => ({ settings: { l2, positiveShare: 0.5 }, recall, cleanFlagged, cleanCount: 40 });

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
});
