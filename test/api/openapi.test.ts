import { loadApiDocument } from '../../src/api/openapi';

interface MediaType {
  schema?: { $ref?: string };
  examples?: Record<string, { value: unknown }>;
}

const api = loadApiDocument();

/** Every media type that has examples, anywhere in the document, with where it is. */
function mediaWithExamples(node: unknown, where: string, found: [string, MediaType][] = []): [string, MediaType][] {
  if (typeof node !== 'object' || node === null) return found;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === 'content') {
      for (const [type, media] of Object.entries(value as Record<string, MediaType>)) if (media.examples) found.push([`${where} ${type}`, media]);
    } else {
      mediaWithExamples(value, `${where}/${key}`, found);
    }
  }
  return found;
}

describe('openapi.yaml', () => {
  const media = mediaWithExamples(api.document, '#');

  it('has examples for the gate routes', () => {
    const where = media.map(([w]) => w).join('\n');
    for (const route of ['/NFFS-FIQA/v1/predict/post/requestBody', '/NFFS-FIQA/v1/predict/post/responses/200', '/face_recognition/image/post/responses/400']) {
      expect(where).toContain(route);
    }
  });

  it.each(media)('%s: every example validates against its schema', (_where, content) => {
    const ref = content.schema?.$ref ?? '';
    expect(ref).toMatch(/^#\/components\/schemas\//);
    const validate = api.validator(ref.replace('#/components/schemas/', ''));
    for (const [name, example] of Object.entries(content.examples ?? {})) {
      expect({ name, valid: validate(example.value), errors: validate.errors }).toEqual({ name, valid: true, errors: null });
    }
  });

  it('validates requests with the same schemas: thresholds within [0, 1], no unknown fields', () => {
    const validate = api.validator('FiqaRequest');
    expect(validate({ images: ['abc'], additional_params: { face_iqa: { threshold: 0.5 } } })).toBe(true);
    expect(validate({ images: ['abc'], additional_params: { face_iqa: { threshold: 1.5 } } })).toBe(false);
    expect(validate({ images: [] })).toBe(false);
    expect(validate({ images: ['abc'], additional_params: { face_occlussion: { threshold: 0.5 } } })).toBe(false);
    expect(api.validator('ImageUploadRequest')({ image: '' })).toBe(false);
  });
});
