import sharp from 'sharp';
import type { DecodedImage } from './types';

export type ImageErrorCode = 'empty' | 'unsupported_format' | 'too_large' | 'too_many_pixels' | 'corrupt';

/** A client-side image problem; the APIs turn it into a 4xx (413 for `too_large`). */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DecodeLimits {
  maxBytes: number;
  maxPixels: number;
  /** Larger images are shrunk while decoding to at most this many pixels (the analysis needs no more). */
  analysisPixels: number;
}

const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** The format named by the file's first bytes, whatever its name or declared type says. */
export function sniffFormat(bytes: Uint8Array): 'jpeg' | 'png' | undefined {
  if (startsWith(bytes, JPEG_MAGIC)) return 'jpeg';
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  return undefined;
}

/**
 * An image's size from its header, upright (EXIF orientation applied), without decoding a pixel:
 * safe before any pixel limit has been checked.
 */
export async function imageSize(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  const format = sniffFormat(bytes);
  if (!format) throw new ImageError('unsupported_format', 'The image is neither JPEG nor PNG.');
  try {
    const metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
    return { width: metadata.autoOrient.width, height: metadata.autoOrient.height };
  } catch {
    throw new ImageError('corrupt', `The ${format.toUpperCase()} file cannot be read.`);
  }
}

/**
 * Decodes a JPEG or PNG into upright 8-bit sRGB: EXIF orientation applied; grayscale, CMYK and
 * 16-bit converted; transparency flattened onto white; only the first frame of an animation. An
 * image over `limits.analysisPixels` is shrunk to fit while it is decoded (a JPEG is decoded
 * straight at a fraction of its size, shrink-on-load), never enlarged; `scale` says by how much.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageError('empty', 'The image is empty.');
  if (bytes.length > limits.maxBytes) {
    throw new ImageError('too_large', `The image is ${bytes.length} bytes; the limit is ${limits.maxBytes}.`);
  }
  const format = sniffFormat(bytes);
  if (!format) throw new ImageError('unsupported_format', 'The image is neither JPEG nor PNG.');
  const original = await imageSize(bytes);
  const pixels = original.width * original.height;
  if (pixels > limits.maxPixels) {
    throw new ImageError('too_many_pixels', `The image has ${original.width}x${original.height} pixels; the limit is ${limits.maxPixels} pixels.`);
  }
  const shrink = Math.min(1, Math.sqrt(limits.analysisPixels / pixels));
  try {
    let image = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated', pages: 1 }).rotate();
    if (shrink < 1) {
      const side = Math.floor(Math.max(original.width, original.height) * shrink);
      image = image.resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true });
    }
    const { data, info } = await image
      .toColourspace('srgb')
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, format, bytes: bytes.length, original, scale: info.width / original.width };
  } catch {
    throw new ImageError('corrupt', `The ${format.toUpperCase()} file is damaged or truncated.`);
  }
}
