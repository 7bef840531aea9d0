/** Defects made on purpose from a good photo, for calibrating and testing the gate. Each returns a JPEG. */
import sharp from 'sharp';
import type { Box } from '../src/pipeline/types';

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
