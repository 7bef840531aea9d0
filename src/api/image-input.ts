import type { Response } from 'express';
import { type DecodeLimits, ImageError, imageHeader, sniffFormat } from '../pipeline/decode';
import { decodeBase64 } from './base64';
import { HttpError } from './errors';


/** Image keys are UUIDs (v4 when FaceGate makes them), in any letter case. */
export const IMAGE_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;


/**
 * The bytes of a base64 image, checked before any decoding: valid base64, not empty, within the
 * byte limit (413), JPEG or PNG by its first bytes. `label` names the image in messages.
 */
export function imageBytes(text: string, limits: DecodeLimits, label = 'The image'): Buffer {
  const bytes = decodeBase64(text);
  if (!bytes) throw new HttpError(400, 'invalid_image', `${label} is not valid base64.`);
  return checkedImageBytes(bytes, limits, label);
}

/** The checks of `imageBytes` on bytes sent as they are (a multipart file): not empty, within the byte limit (413), JPEG or PNG. */
export function checkedImageBytes(bytes: Buffer, limits: DecodeLimits, label = 'The image'): Buffer {
  if (bytes.length === 0) throw new HttpError(400, 'invalid_image', `${label} is empty.`);
  if (bytes.length > limits.maxBytes) throw new HttpError(413, 'image_too_large', `${label} is larger than ${limits.maxBytes} bytes.`);
  if (!sniffFormat(bytes)) throw new HttpError(400, 'invalid_image', `${label} is neither JPEG nor PNG.`);
  return bytes;
}

/** Runs `work`, turning the pipeline's image errors into client errors about `label`. */
export async function asClientError<T>(label: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    throw new HttpError(error.code === 'too_large' ? 413 : 400, 'invalid_image', `${label}: ${error.message}`);
  }
}

/**
 * Refuses (413) a request whose images have more pixels together than `budget`, read from their
 * headers before any is decoded. `images` are checked bytes (`imageBytes`) with their labels.
 */
export async function withinPixelBudget(images: { bytes: Buffer; label: string }[], budget: number): Promise<void> {
  let total = 0;
  for (const { bytes, label } of images) {
    const { width, height } = await asClientError(label, () => imageHeader(bytes));
    total += width * height;
  }
  if (total > budget) {
    throw new HttpError(413, 'too_many_pixels', `The images have ${total} pixels together; one request may carry at most ${budget}.`);
  }
}

/**
 * The request's analysis deadline, `ms` from now (its turn): `check` throws 503 with `Retry-After`
 * once it has passed, so the images not yet analysed are not started.
 */
export function analysisDeadline(res: Response, ms: number): { check: () => void } {
  const end = Date.now() + ms;
  return {
    check: () => {
      if (Date.now() <= end) return;
      res.set('Retry-After', String(Math.max(1, Math.ceil(ms / 1000))));
      throw new HttpError(503, 'analysis_timeout', `The analysis took longer than this service allows one request (${ms} ms); send fewer or smaller images.`);
    },
  };
}
