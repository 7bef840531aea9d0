/** Defects made on purpose from a good photo, for calibrating and testing the gate. Each returns a JPEG. */
import sharp from 'sharp';
import type { Box, RgbImage } from '../src/pipeline/types';
import { seededRandom } from './random';

const GREY = { r: 128, g: 128, b: 128 };
const jpeg = (image: sharp.Sharp): Promise<Buffer> => image.jpeg({ quality: 92 }).toBuffer();
/** The photo turned upright (EXIF), so that face boxes from the analysis apply to it. */
const upright = (bytes: Buffer) => sharp(bytes).rotate().toBuffer({ resolveWithObject: true });

export const blurred = (bytes: Buffer, sigma = 6): Promise<Buffer> => jpeg(sharp(bytes).rotate().blur(sigma));

/** Exposure scaled by `factor`: below 1 darkens, above 1 burns out the highlights. */
export const exposed = (bytes: Buffer, factor: number): Promise<Buffer> => jpeg(sharp(bytes).rotate().linear(factor, 0));

export async function rotated(bytes: Buffer, degrees = 25): Promise<Buffer> {
  const { data } = await upright(bytes);
  return jpeg(sharp(data).rotate(degrees, { background: GREY }));
}

/** The photo scaled to `scale` of its size in the top-left corner of a grey canvas of the original size. */
export async function shrunkIntoCorner(bytes: Buffer, scale = 0.3): Promise<Buffer> {
  const { data, info } = await upright(bytes);
  const small = await sharp(data).resize(Math.round(info.width * scale)).toBuffer();
  return jpeg(sharp({ create: { width: info.width, height: info.height, channels: 3, background: GREY } }).composite([{ input: small, left: 0, top: 0 }]));
}

/** Cut so that the image's left edge runs through the face, `share` of its width from its left side. */
export async function cutAtEdge(bytes: Buffer, face: Box, share = 0.25): Promise<Buffer> {
  const { data, info } = await upright(bytes);
  const left = Math.round(face.x + face.width * share);
  return jpeg(sharp(data).extract({ left, top: 0, width: info.width - left, height: info.height }));
}

/** Only the face, with `margin` of its size around it: the camera far too close. */
export async function closeUp(bytes: Buffer, face: Box, margin = 0.05): Promise<Buffer> {
  const { data, info } = await upright(bytes);
  const left = Math.max(0, Math.round(face.x - margin * face.width));
  const top = Math.max(0, Math.round(face.y - margin * face.height));
  const right = Math.min(info.width, Math.round(face.x + (1 + margin) * face.width));
  const bottom = Math.min(info.height, Math.round(face.y + (1 + margin) * face.height));
  return jpeg(sharp(data).extract({ left, top, width: right - left, height: bottom - top }));
}

/** Two photos side by side at the same height. */
export async function sideBySide(first: Buffer, second: Buffer, height = 600): Promise<Buffer> {
  const [a, b] = await Promise.all([first, second].map((bytes) => sharp(bytes).rotate().resize({ height }).toBuffer({ resolveWithObject: true })));
  return jpeg(
    sharp({ create: { width: a.info.width + b.info.width, height, channels: 3, background: GREY } }).composite([
      { input: a.data, left: 0, top: 0 },
      { input: b.data, left: a.info.width, top: 0 },
    ]),
  );
}

/** The photo reduced to `longSide` pixels: the shared photos range from thumbnails to 16 MP. */
export const scaledTo = (bytes: Buffer, longSide = 800): Promise<Buffer> =>
  jpeg(sharp(bytes).rotate().resize(longSide, longSide, { fit: 'inside', withoutEnlargement: true }));

function sharpOf(image: RgbImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/** The image after `transform`, as a lossless PNG. */
async function encode(image: RgbImage, transform: (s: sharp.Sharp) => sharp.Sharp): Promise<Buffer> {
  const raw = await transform(sharpOf(image)).raw().toBuffer({ resolveWithObject: true });
  return sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } }).png().toBuffer();
}

function withNoise(image: RgbImage, sigma: number): RgbImage {
  const random = seededRandom(11);
  const data = Uint8Array.from(image.data, (v) => {
    const gaussian = Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    return Math.min(255, Math.max(0, Math.round(v + sigma * gaussian)));
  });
  return { ...image, data };
}

/**
 * The image-quality degradations at strength 0 (none) to 4, each encoded losslessly except JPEG;
 * blur is relative to the face's inter-pupil distance `ipd`. Used to calibrate and evaluate the IQA score.
 */
export const DEGRADATIONS: Record<string, (image: RgbImage, strength: number, ipd: number) => Promise<Buffer>> = {
  blur: (im, k, ipd) => encode(im, (s) => (k === 0 ? s : s.blur(Math.max(0.3, ipd * [0, 0.02, 0.04, 0.07, 0.1][k])))),
  noise: (im, k) => encode(withNoise(im, [0, 10, 20, 32, 48][k]), (s) => s),
  jpeg: (im, k) => sharpOf(im).jpeg({ quality: [95, 30, 15, 8, 4][k] }).toBuffer(),
  underexposure: (im, k) => encode(im, (s) => s.linear([1, 0.55, 0.35, 0.2, 0.1][k], 0)),
  overexposure: (im, k) => encode(im, (s) => s.linear([1, 1.5, 2, 2.7, 3.6][k], [0, 20, 40, 60, 80][k])),
  downscaling: (im, k) => encode(im, (s) => s.resize(Math.max(8, Math.round(im.width * [1, 0.5, 0.3, 0.18, 0.1][k])))),
};
