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

/** The limits an image must be within before any of its pixels is decoded. */
type HeaderLimits = Pick<DecodeLimits, 'maxBytes' | 'maxPixels'>;

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

interface ImageHeader {
  format: 'jpeg' | 'png';
  /** Upright (EXIF orientation applied). */
  width: number;
  height: number;
}

/**
 * An image's format and upright size from its header alone, without decoding a pixel: safe before
 * any pixel limit has been checked.
 */
export async function imageHeader(bytes: Uint8Array): Promise<ImageHeader> {
  const format = sniffFormat(bytes);
  if (!format) throw new ImageError('unsupported_format', 'The image is neither JPEG nor PNG.');
  try {
    const metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
    return { format, width: metadata.autoOrient.width, height: metadata.autoOrient.height };
  } catch {
    throw new ImageError('corrupt', `The ${format.toUpperCase()} file cannot be read.`);
  }
}

/** Size, format and pixel count from the header alone: no pixel is decoded until they are within the limits. */
async function checkedHeader(bytes: Uint8Array, limits: HeaderLimits): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ImageError('empty', 'The image is empty.');
  if (bytes.length > limits.maxBytes) {
    throw new ImageError('too_large', `The image is ${bytes.length} bytes; the limit is ${limits.maxBytes}.`);
  }
  const header = await imageHeader(bytes);
  if (header.width * header.height > limits.maxPixels) {
    throw new ImageError('too_many_pixels', `The image has ${header.width}x${header.height} pixels; the limit is ${limits.maxPixels} pixels.`);
  }
  return header;
}

const damaged = (format: ImageHeader['format']) => new ImageError('corrupt', `The ${format.toUpperCase()} file is damaged or truncated.`);

/**
 * Decodes a JPEG or PNG into upright 8-bit sRGB: EXIF orientation applied; grayscale, CMYK and
 * 16-bit converted; transparency flattened onto white; only the first frame of an animation. An
 * image over `limits.analysisPixels` is shrunk to fit while it is decoded (a JPEG is decoded
 * straight at a fraction of its size, shrink-on-load), never enlarged; `scale` says by how much.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const { format, width, height } = await checkedHeader(bytes, limits);
  const shrink = Math.min(1, Math.sqrt(limits.analysisPixels / (width * height)));
  try {
    let image = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated', pages: 1 }).rotate();
    if (shrink < 1) {
      const side = Math.floor(Math.max(width, height) * shrink);
      image = image.resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true });
    }
    const { data, info } = await image
      .toColourspace('srgb')
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, format, bytes: bytes.length, original: { width, height }, scale: info.width / width };
  } catch {
    throw damaged(format);
  }
}

/** Side of the thumbnail `proveImage` decodes to: small, so that a JPEG is decoded at 1/8 scale. */
const PROOF_SIDE = 64;

/**
 * Proves that the bytes are one whole JPEG or PNG within the limits by decoding every one of its
 * compressed bytes, at reduced size (a JPEG is scaled while it is decoded, so this costs a fraction
 * of `decodeImage`); a fake with the right magic bytes or a truncated file is `corrupt`.
 */
export async function proveImage(bytes: Uint8Array, limits: HeaderLimits): Promise<void> {
  const { format } = await checkedHeader(bytes, limits);
  try {
    await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated', pages: 1 })
      .resize(PROOF_SIDE, PROOF_SIDE, { fit: 'inside' })
      .raw()
      .toBuffer();
  } catch {
    throw damaged(format);
  }
}
