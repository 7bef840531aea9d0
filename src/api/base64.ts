const DATA_URL_PREFIX = /^data:[\w.+-]+\/[\w.+-]+(;[\w-]+=[\w.-]+)*;base64,/i;
const WHITESPACE = /\s+/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes an image sent as base64: a data-URL prefix and whitespace (line breaks of MIME
 * encoders) are allowed, as are the URL-safe alphabet and missing padding. Returns undefined for
 * anything else rather than decoding it leniently.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const body = text.replace(DATA_URL_PREFIX, '').replace(WHITESPACE, '');
  if (!BASE64.test(body) && !BASE64URL.test(body)) return undefined;
  const unpadded = body.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (body.length !== unpadded.length && body.length % 4 !== 0) return undefined;
  return Buffer.from(unpadded, body.includes('-') || body.includes('_') ? 'base64url' : 'base64');
}

/** Room for JSON syntax, a data-URL prefix, line breaks and other fields around each image. */
const JSON_OVERHEAD_BYTES = 64 * 1024;

/** A JSON body limit that fits `images` images of `maxImageBytes` each, encoded in base64. */
export function jsonBodyLimit(maxImageBytes: number, images = 1): number {
  // A MIME line break every 76 characters, escaped in JSON as four characters (\r\n).
  const lineBreaks = Math.ceil(maxImageBytes / 57) * 4;
  return images * (Math.ceil(maxImageBytes / 3) * 4 + lineBreaks + JSON_OVERHEAD_BYTES);
}
