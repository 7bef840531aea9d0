import sharp from 'sharp';
import { type Affine, cropToImage, cropToTensor, squareCrop } from './image-ops';
import { meshRegion, type Roi } from './landmarks';
import type { Landmarks, RgbImage } from './types';

export interface CropOptions {
  /** Side of the aligned face crop, pixels. */
  size: number;
  /** Room around the face (mesh extent) on each side, as a share of the face size. */
  margin: number;
  jpegQuality: number;
}

/** The roll-aligned square around a face's mesh, `scale` times its extent. */
export function faceRegion(landmarks: Landmarks, scale: number): Roi {
  return meshRegion(landmarks.mesh, scale);
}

export function regionMap(region: Roi, outSize: number): Affine {
  return squareCrop(region.center, region.side, region.angle, outSize);
}

/** Writes the region, resized to `outSize`, into `target` at face `index` of a batch. */
export function regionToTensor(
  image: RgbImage,
  region: Roi,
  outSize: number,
  range: readonly [number, number],
  target: Float32Array,
  index: number,
  grayscale = false,
): void {
  const plane = outSize * outSize * (grayscale ? 1 : 3);
  cropToTensor(image, regionMap(region, outSize), outSize, range, { data: target, offset: index * plane }, grayscale);
}

/** The aligned face crop (eyes level) as RGB pixels. */
export function alignedFace(image: RgbImage, landmarks: Landmarks, options: CropOptions): RgbImage {
  const region = faceRegion(landmarks, 1 + 2 * options.margin);
  return cropToImage(image, regionMap(region, options.size), options.size, options.size);
}

export async function encodeJpeg(image: RgbImage, quality: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality, mozjpeg: false }).toBuffer();
}
