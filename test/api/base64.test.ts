import { decodeBase64, jsonBodyLimit } from '../../src/api/base64';

describe('decodeBase64', () => {
  const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xfb, 0xef]);
  const plain = bytes.toString('base64');

  it('decodes plain, data-URL, wrapped, URL-safe and unpadded base64 to the same bytes', () => {
    const wrapped = `${plain.slice(0, 4)}\r\n${plain.slice(4)}\n`;
    for (const text of [plain, `data:image/jpeg;base64,${plain}`, wrapped, bytes.toString('base64url'), plain.replace(/=+$/, '')]) {
      expect(decodeBase64(text)).toEqual(bytes);
    }
  });

  it('refuses characters outside the alphabet, misplaced padding and impossible lengths', () => {
    for (const text of ['abc!', 'ab=c', 'a', 'abcde', 'ab==cd==', '{"image":1}']) expect(decodeBase64(text)).toBeUndefined();
  });

  it('sizes a JSON body for whole images in base64, line breaks included', () => {
    const oneImage = jsonBodyLimit(3 * 1024 * 1024);
    expect(oneImage).toBeGreaterThan((3 * 1024 * 1024 * 4) / 3);
    expect(jsonBodyLimit(3 * 1024 * 1024, 10)).toBe(10 * oneImage);
  });
});
