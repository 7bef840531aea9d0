/**
 * Logistic regression on standardised features and their squares, one output per label, fitted
 * by full-batch Adam with L2 regularisation. Squares let a linear model see deviation in either
 * direction (a white mask and a black one both differ from skin).
 */
export interface LogisticModel {
  mean: Float32Array;
  std: Float32Array;
  /** Row-major [2 * features, outputs]: first the standardised features, then their squares. */
  weights: Float32Array;
  bias: Float32Array;
}

export const Z_CLIP = 6;

export function expand(x: Float32Array, mean: Float32Array, std: Float32Array): Float32Array {
  const d = x.length;
  const out = new Float32Array(2 * d);
  for (let i = 0; i < d; i++) {
    const z = Math.min(Z_CLIP, Math.max(-Z_CLIP, (x[i] - mean[i]) / std[i]));
    out[i] = z;
    out[d + i] = z * z;
  }
  return out;
}

/** Each input's mean and standard deviation over `reference` (at least `minStd`, so a constant input stays finite). */
export function standardisation(reference: ArrayLike<number>[], minStd: number): { mean: Float32Array; std: Float32Array } {
  const d = reference[0].length;
  const mean = new Float32Array(d);
  const std = new Float32Array(d);
  for (const x of reference) for (let i = 0; i < d; i++) mean[i] += x[i] / reference.length;
  for (const x of reference) for (let i = 0; i < d; i++) std[i] += (x[i] - mean[i]) ** 2 / reference.length;
  for (let i = 0; i < d; i++) std[i] = Math.max(Math.sqrt(std[i]), minStd);
  return { mean, std };
}

export function predict(model: LogisticModel, x: Float32Array): Float32Array {
  const phi = expand(x, model.mean, model.std);
  const outputs = model.bias.length;
  const scores = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let s = model.bias[o];
    for (let i = 0; i < phi.length; i++) s += phi[i] * model.weights[i * outputs + o];
    scores[o] = 1 / (1 + Math.exp(-s));
  }
  return scores;
}

/**
 * Fits one logistic output per label column. `labels[n][o]` is 1, 0, or NaN (ignored).
 * Positives of each output weigh `positiveShare` of the loss, negatives the rest (default: equal).
 */
export function fitLogistic(
  inputs: Float32Array[],
  labels: number[][],
  reference: Float32Array[],
  options: { epochs: number; l2: number; rate: number; positiveShare?: number },
): LogisticModel {
  const d = inputs[0].length;
  const { mean, std } = standardisation(reference, 0.05);

  const phi = inputs.map((x) => expand(x, mean, std));
  const p = 2 * d;
  const outputs = labels[0].length;
  const weights = new Float32Array(p * outputs);
  const bias = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    const rows = labels.map((l, n) => [n, l[o]] as const).filter(([, y]) => !Number.isNaN(y));
    const positives = rows.filter(([, y]) => y === 1).length;
    const negatives = rows.length - positives;
    if (positives === 0 || negatives === 0) continue;
    const share = options.positiveShare ?? 0.5;
    const weightOf = (y: number) => (y === 1 ? share / positives : (1 - share) / negatives);
    const w = new Float64Array(p);
    let b = 0;
    const [m, v] = [new Float64Array(p + 1), new Float64Array(p + 1)];
    const [beta1, beta2] = [0.9, 0.999];
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const grad = new Float64Array(p + 1);
      for (const [n, y] of rows) {
        const x = phi[n];
        let s = b;
        for (let i = 0; i < p; i++) s += w[i] * x[i];
        const error = (1 / (1 + Math.exp(-s)) - y) * weightOf(y);
        for (let i = 0; i < p; i++) grad[i] += error * x[i];
        grad[p] += error;
      }
      for (let i = 0; i < p; i++) grad[i] += options.l2 * w[i];
      for (let i = 0; i <= p; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
        v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
        const step = (options.rate * (m[i] / (1 - beta1 ** epoch))) / (Math.sqrt(v[i] / (1 - beta2 ** epoch)) + 1e-8);
        if (i < p) w[i] -= step;
        else b -= step;
      }
    }
    for (let i = 0; i < p; i++) weights[i * outputs + o] = w[i];
    bias[o] = b;
  }
  return { mean, std, weights, bias };
}
