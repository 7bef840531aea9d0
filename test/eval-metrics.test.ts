import { equalErrorRate, falseAcceptRate, falseRejectRate, spearman, tarAtFar } from '../eval/metrics';

describe('verification metrics', () => {
  const genuine = [0.9, 0.8, 0.7, 0.4];
  const impostor = [0.1, 0.2, 0.3, 0.75];

  it('counts false accepts and false rejects at a threshold', () => {
    expect(falseAcceptRate(impostor, 0.7)).toBe(0.25);
    expect(falseRejectRate(genuine, 0.7)).toBe(0.25);
    expect(falseAcceptRate(impostor, 0.8)).toBe(0);
  });

  it('finds the equal error rate where both rates meet', () => {
    // At 0.7 (and 0.75) one genuine of four is rejected and one impostor of four accepted.
    expect(equalErrorRate(genuine, impostor).eer).toBe(0.25);
    expect(equalErrorRate([0.9, 0.8], [0.1, 0.2]).eer).toBe(0);
  });

  it('gives the accept rate at a false-accept budget', () => {
    // No impostor may pass: the threshold sits just above 0.75, accepting 0.9 and 0.8.
    expect(tarAtFar(genuine, impostor, 0.01).tar).toBe(0.5);
    // One impostor of four may pass: the threshold sits just above 0.3.
    expect(tarAtFar(genuine, impostor, 0.25).tar).toBe(1);
  });

  it('ranks with Spearman, ties averaged', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1);
    expect(spearman([1, 2, 3], [1, 1, 2])).toBeCloseTo(0.866, 3);
  });
});
