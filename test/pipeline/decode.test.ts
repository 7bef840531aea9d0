import sharp from 'sharp';
import { decodeImage, ImageError, sniffFormat } from '../../src/pipeline/decode';

const limits = { maxBytes: 3 * 1024 * 1024, maxPixels: 30_000_000, analysisPixels: 30_000_000 };

/** A 40x20 image: left half red, right half blue. */
function halves(channels: 3 | 4 = 3): sharp.Sharp {
  const data = Buffer.alloc(40 * 20 * channels);
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 40; x++) {
      const i = (y * 40 + x) * channels;
      data[i] = x < 20 ? 255 : 0;
      data[i + 2] = x < 20 ? 0 : 255;
      if (channels === 4) data[i + 3] = x < 10 ? 0 : 255;
    }
  }
  return sharp(data, { raw: { width: 40, height: 20, channels } });
}

function pixel(image: { data: Uint8Array; width: number }, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(i, i + 3));
}

async function expectImageError(bytes: Uint8Array, code: string, limit = limits) {
  const error = await decodeImage(bytes, limit).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  expect((error as ImageError).code).toBe(code);
}

describe('decodeImage', () => {
  it('decodes a PNG to 8-bit RGB with its size and format', async () => {
    const png = await halves().png().toBuffer();
    const image = await decodeImage(png, limits);
    expect([image.width, image.height, image.format, image.bytes]).toEqual([40, 20, 'png', png.length]);
    expect(image.data).toHaveLength(40 * 20 * 3);
    expect(pixel(image, 5, 5)).toEqual([255, 0, 0]);
    expect(pixel(image, 35, 5)).toEqual([0, 0, 255]);
  });

  it('applies the EXIF orientation of a JPEG', async () => {
    const rotated = await halves().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const image = await decodeImage(rotated, limits);
    expect([image.width, image.height]).toEqual([20, 40]);
    // Orientation 6 turns the image 90° clockwise: the red left half ends on top.
    expect(pixel(image, 10, 5)[0]).toBeGreaterThan(200);
    expect(pixel(image, 10, 35)[2]).toBeGreaterThan(200);
  });

  it('shrinks an image over analysisPixels while decoding, upright, keeping its aspect and its original size', async () => {
    const small = { ...limits, analysisPixels: 200 };
    const png = await decodeImage(await halves().png().toBuffer(), small);
    expect([png.width, png.height, png.original, png.scale]).toEqual([20, 10, { width: 40, height: 20 }, 0.5]);
    expect(pixel(png, 2, 5)).toEqual([255, 0, 0]);
    expect(pixel(png, 17, 5)).toEqual([0, 0, 255]);
    // A JPEG turned by its EXIF orientation: 20x40 upright, shrunk to 10x20.
    const jpeg = await decodeImage(await halves().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer(), small);
    expect([jpeg.width, jpeg.height, jpeg.original, jpeg.scale]).toEqual([10, 20, { width: 20, height: 40 }, 0.5]);
    // Never enlarged.
    const same = await decodeImage(await halves().png().toBuffer(), limits);
    expect([same.width, same.height, same.scale]).toEqual([40, 20, 1]);
  });

  it('converts grayscale, 16-bit and transparent PNGs and CMYK JPEGs to 8-bit RGB', async () => {
    const gray = await decodeImage(await halves().grayscale().png().toBuffer(), limits);
    expect(pixel(gray, 5, 5)[0]).toBe(pixel(gray, 5, 5)[1]);
    const deep = await decodeImage(await halves().toColourspace('rgb16').png().toBuffer(), limits);
    expect(pixel(deep, 35, 5)).toEqual([0, 0, 255]);
    const alpha = await decodeImage(await halves(4).png().toBuffer(), limits);
    expect(pixel(alpha, 2, 2)).toEqual([255, 255, 255]);
    expect(pixel(alpha, 15, 2)).toEqual([255, 0, 0]);
    const cmyk = await halves().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const fromCmyk = await decodeImage(cmyk, limits);
    const [red, green, blue] = pixel(fromCmyk, 35, 5);
    expect(pixel(fromCmyk, 5, 5)[0]).toBeGreaterThan(200);
    expect(blue).toBeGreaterThan(Math.max(red, green) + 50);
  });

  it('recognises formats by their bytes only', async () => {
    expect(sniffFormat(await halves().png().toBuffer())).toBe('png');
    expect(sniffFormat(await halves().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffFormat(await halves().webp().toBuffer())).toBeUndefined();
    await expectImageError(await halves().webp().toBuffer(), 'unsupported_format');
    await expectImageError(await halves().gif().toBuffer(), 'unsupported_format');
    await expectImageError(Buffer.from('not an image at all'), 'unsupported_format');
    await expectImageError(Buffer.alloc(0), 'empty');
  });

  it('rejects truncated and corrupt files', async () => {
    const jpeg = await halves().jpeg().toBuffer();
    await expectImageError(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'corrupt');
    const png = await halves().png().toBuffer();
    await expectImageError(png.subarray(0, png.length - 20), 'corrupt');
    const garbage = Buffer.concat([jpeg.subarray(0, 3), Buffer.alloc(200, 0x55)]);
    await expectImageError(garbage, 'corrupt');
  });

  it('enforces the byte and pixel limits', async () => {
    const png = await halves().png().toBuffer();
    await expectImageError(png, 'too_large', { ...limits, maxBytes: png.length - 1 });
    await expectImageError(png, 'too_many_pixels', { ...limits, maxPixels: 40 * 20 - 1 });
    const bomb = await sharp({ create: { width: 12000, height: 12000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(limits.maxBytes);
    await expectImageError(bomb, 'too_many_pixels', { ...limits, maxPixels: 100_000_000 });
  });
});
