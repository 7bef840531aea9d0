import * as ort from 'onnxruntime-node';
import { fitLogistic, predict } from '../../train/logistic';
import { logisticToOnnx } from '../../train/logistic-onnx';
import { seededRandom } from '../helpers/random';

describe('logistic occlusion model', () => {
  const random = seededRandom(3);
  // Label 0 fires when feature 0 strays far from normal in either direction; label 1 when feature 1 is high.
  const inputs = Array.from({ length: 400 }, () => Float32Array.from({ length: 6 }, () => random() * 2 - 1));
  for (let n = 0; n < 100; n++) inputs[n][0] = (n % 2 ? 1 : -1) * (3 + random());
  const labels = inputs.map((x) => [Math.abs(x[0]) > 2 ? 1 : 0, x[1] > 0.5 ? 1 : x[1] < 0.2 ? 0 : Number.NaN]);
  const reference = inputs.slice(100);
  const model = fitLogistic(inputs, labels, reference, { epochs: 300, l2: 1e-4, rate: 0.05 });

  it('learns deviation in either direction through the squared features', () => {
    expect(predict(model, Float32Array.of(3.5, 0, 0, 0, 0, 0))[0]).toBeGreaterThan(0.9);
    expect(predict(model, Float32Array.of(-3.5, 0, 0, 0, 0, 0))[0]).toBeGreaterThan(0.9);
    expect(predict(model, Float32Array.of(0.1, 0, 0, 0, 0, 0))[0]).toBeLessThan(0.1);
    expect(predict(model, Float32Array.of(0, 0.9, 0, 0, 0, 0))[1]).toBeGreaterThan(0.8);
    expect(predict(model, Float32Array.of(0, -0.9, 0, 0, 0, 0))[1]).toBeLessThan(0.2);
  });

  it('exports to ONNX with the same predictions', async () => {
    const session = await ort.InferenceSession.create(logisticToOnnx(model, { graph: 'test', input: 'features', output: 'scores' }));
    const batch = inputs.slice(95, 105);
    const flat = new Float32Array(batch.length * 6);
    batch.forEach((x, i) => flat.set(x, i * 6));
    const { scores } = await session.run({ features: new ort.Tensor('float32', flat, [batch.length, 6]) });
    batch.forEach((x, i) => {
      const expected = predict(model, x);
      expect((scores.data as Float32Array)[i * 2]).toBeCloseTo(expected[0], 5);
      expect((scores.data as Float32Array)[i * 2 + 1]).toBeCloseTo(expected[1], 5);
    });
  });
});
