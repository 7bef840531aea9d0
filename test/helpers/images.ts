import sharp from 'sharp';
import { seededRandom } from './random';

/** A 640x480 JPEG of smooth colour noise: no face in it. */
export async function faceFreeJpeg(seed = 3): Promise<Buffer> {
  const random = seededRandom(seed);
  const small = Buffer.from(Array.from({ length: 16 * 12 * 3 }, () => Math.floor(random() * 256)));
  return sharp(small, { raw: { width: 16, height: 12, channels: 3 } }).resize(640, 480, { kernel: 'cubic' }).jpeg().toBuffer();
}
