import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { facePath } from '../eval/dataset';

/** The one-face portrait every benchmark measures with. */
export const PORTRAIT = 'deepface_img29.jpg';
export const portraitAvailable = existsSync(facePath(PORTRAIT));

/**
 * A JPEG (quality 90) of the portrait scaled to the frame height, centred on a gray frame; without
 * the shared photo set, the gray frame alone (no face: only decode and detection are measured).
 */
export async function portraitFrame(width: number, height: number): Promise<Buffer> {
  const gray = sharp({ create: { width, height, channels: 3, background: '#8a8a8a' } });
  if (!portraitAvailable) return gray.jpeg({ quality: 90 }).toBuffer();
  const portrait = await sharp(readFileSync(facePath(PORTRAIT))).resize({ height }).toBuffer({ resolveWithObject: true });
  return gray
    .composite([{ input: portrait.data, left: Math.round((width - portrait.info.width) / 2), top: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}
