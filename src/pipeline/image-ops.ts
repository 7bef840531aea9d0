import type { Point, RgbImage } from './types';

/**
 * An affine map from output (crop) pixels to source-image pixels:
 * x_src = a·x + b·y + c, y_src = d·x + e·y + f.
 */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

export function applyAffine(m: Affine, p: Point): Point {
  return { x: m.a * p.x + m.b * p.y + m.c, y: m.d * p.x + m.e * p.y + m.f };
}

/**
 * The map for a square crop of `outSize` pixels showing a square of side `side` source pixels,
 * centred on `center` and turned by `angle` radians (the crop's x axis points along `angle`).
 * With `mirror`, the crop is flipped left to right. Coordinates are continuous: pixel i spans [i, i+1).
 */
export function squareCrop(center: Point, side: number, angle: number, outSize: number, mirror = false): Affine {
  const scale = side / outSize;
  const flip = mirror ? -1 : 1;
  const a = scale * Math.cos(angle) * flip;
  const b = -scale * Math.sin(angle);
  const d = scale * Math.sin(angle) * flip;
  const e = scale * Math.cos(angle);
  const half = outSize / 2;
  return { a, b, c: center.x - (a + b) * half, d, e, f: center.y - (d + e) * half };
}

/** Channel `ch` at continuous position (x, y), edge pixels repeated outside the image. */
function bilinear(image: RgbImage, x: number, y: number, ch: number): number {
  const { data, width, height } = image;
  const fx = Math.min(Math.max(x - 0.5, 0), width - 1);
  const fy = Math.min(Math.max(y - 0.5, 0), height - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const tx = fx - x0;
  const ty = fy - y0;
  const row0 = y0 * width;
  const row1 = y1 * width;
  const top = data[(row0 + x0) * 3 + ch] * (1 - tx) + data[(row0 + x1) * 3 + ch] * tx;
  const bottom = data[(row1 + x0) * 3 + ch] * (1 - tx) + data[(row1 + x1) * 3 + ch] * tx;
  return top * (1 - ty) + bottom * ty;
}

export interface TensorTarget {
  data: Float32Array;
  /** Index of the first value to write (for batching several crops into one input). */
  offset: number;
}

/**
 * Writes an `outSize`x`outSize` crop through `m` into a planar (NCHW) float tensor,
 * scaling 0..255 to `range`. With `grayscale`, one plane of 0.2989 R + 0.587 G + 0.114 B.
 * Every model input passes through here, so the bilinear sampling of `bilinear` is written out
 * once per pixel for all three channels: twice as fast, with the same values.
 */
export function cropToTensor(
  image: RgbImage,
  m: Affine,
  outSize: number,
  range: readonly [number, number],
  target: TensorTarget,
  grayscale = false,
): void {
  const { data, width } = image;
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  const [low, high] = range;
  const k = (high - low) / 255;
  const plane = outSize * outSize;
  const out = target.data;
  for (let y = 0; y < outSize; y++) {
    for (let x = 0; x < outSize; x++) {
      const fx = Math.min(Math.max(m.a * (x + 0.5) + m.b * (y + 0.5) + m.c - 0.5, 0), maxX);
      const fy = Math.min(Math.max(m.d * (x + 0.5) + m.e * (y + 0.5) + m.f - 0.5, 0), maxY);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = x0 < maxX ? x0 + 1 : maxX;
      const y1 = y0 < maxY ? y0 + 1 : maxY;
      const tx = fx - x0;
      const ty = fy - y0;
      const ux = 1 - tx;
      const uy = 1 - ty;
      const p00 = (y0 * width + x0) * 3;
      const p01 = (y0 * width + x1) * 3;
      const p10 = (y1 * width + x0) * 3;
      const p11 = (y1 * width + x1) * 3;
      const r = (data[p00] * ux + data[p01] * tx) * uy + (data[p10] * ux + data[p11] * tx) * ty;
      const g = (data[p00 + 1] * ux + data[p01 + 1] * tx) * uy + (data[p10 + 1] * ux + data[p11 + 1] * tx) * ty;
      const b = (data[p00 + 2] * ux + data[p01 + 2] * tx) * uy + (data[p10 + 2] * ux + data[p11 + 2] * tx) * ty;
      const i = target.offset + y * outSize + x;
      if (grayscale) {
        out[i] = low + (0.2989 * r + 0.587 * g + 0.114 * b) * k;
      } else {
        out[i] = low + r * k;
        out[i + plane] = low + g * k;
        out[i + 2 * plane] = low + b * k;
      }
    }
  }
}

/**
 * Writes a `width`x`height` crop through `m` as an interleaved 8-bit RGB image. Where the crop
 * shrinks the image, each output pixel averages a grid of samples over its footprint, so the result
 * does not alias: measurements on it then read the same at any source resolution.
 */
export function cropToImage(image: RgbImage, m: Affine, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const samples = Math.max(1, Math.min(8, Math.round(Math.sqrt(Math.abs(m.a * m.e - m.b * m.d)))));
  const weight = 1 / (samples * samples);
  const sum = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      sum[0] = sum[1] = sum[2] = 0;
      for (let j = 0; j < samples; j++) {
        const v = y + (j + 0.5) / samples;
        for (let i = 0; i < samples; i++) {
          const u = x + (i + 0.5) / samples;
          const sx = m.a * u + m.b * v + m.c;
          const sy = m.d * u + m.e * v + m.f;
          for (let ch = 0; ch < 3; ch++) sum[ch] += bilinear(image, sx, sy, ch);
        }
      }
      const o = (y * width + x) * 3;
      for (let ch = 0; ch < 3; ch++) data[o + ch] = Math.round(sum[ch] * weight);
    }
  }
  return { data, width, height };
}

/** Luminance (0..255) of every pixel. */
export function luminance(image: RgbImage): Float32Array {
  const out = new Float32Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) {
    out[i] = 0.2126 * image.data[i * 3] + 0.7152 * image.data[i * 3 + 1] + 0.0722 * image.data[i * 3 + 2];
  }
  return out;
}
