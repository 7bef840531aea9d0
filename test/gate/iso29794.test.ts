import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { type IsoComponent, type IsoComponentName, isoAssessment, isoSigmoid } from '../../src/gate/iso29794';
import { assess } from '../../src/pipeline/analyze';
import { measureIsoGeometry } from '../../src/pipeline/iso29794';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { stageRecord, stagesRun } from '../../src/pipeline/stages';

const m = useModels();
/** The ISO components need the ISO pixel statistics, which only the ISO call and scans measure. */
const isoOptions = { ...m.options, isoPixels: true };

describe('ISO/IEC 29794-5 mappings', () => {
  it("follows the note's worked values", () => {
    expect([60, 90, 120].map((x) => isoSigmoid(x, { x0: 70, w: 20 }))).toEqual([38, 73, 92]);
    const head = (raw: number) => isoSigmoid(Math.abs(raw - 0.45), { h: 200, a: 1, s: -1, x0: 0, w: 0.05 });
    expect([0.45, 0.4, 0.5].map(head)).toEqual([100, 54, 54]);
  });
});

describeWithFaces('the ISO pixel statistics', () => {
  it('are measured only when asked for (the ISO call, scans), not on the gate and enrollment routes', async () => {
    const bytes = readFileSync(facePath('deepface_img29.jpg'));
    const plain = stageRecord();
    const [face] = (await assess(bytes, m.models(), m.options, plain)).faces;
    expect([stagesRun(plain).includes('iso'), face.iso]).toEqual([false, undefined]);
    expect(() => isoAssessment({ width: 1, height: 1, format: 'jpeg', bytes: 1, faces: [face] })).toThrow(/isoPixels/);
    const asked = stageRecord();
    expect((await assess(bytes, m.models(), isoOptions, asked)).faces[0].iso).toBeDefined();
    expect(stagesRun(asked)).toContain('iso');
  });
});

/** Every component of an image's largest face, by name. */
async function components(bytes: Buffer): Promise<Record<IsoComponentName, IsoComponent>> {
  const { components } = isoAssessment(await assess(bytes, m.models(), isoOptions));
  return Object.fromEntries(components.map((c) => [c.name, c])) as Record<IsoComponentName, IsoComponent>;
}

const jpeg = (image: sharp.Sharp) => image.jpeg({ quality: 95 }).toBuffer();
const GREY = { r: 128, g: 128, b: 128 };

/**
 * Each component on a real portrait, clean and under its own degradation: the degraded face is
 * still found and assessed, and the component's scalar falls. Without the measure reacting to
 * its degradation, the scalar would stay where it was.
 */
describeWithFaces('ISO/IEC 29794-5 components under their own degradation', () => {
  let portrait: Buffer;
  let clean: Record<IsoComponentName, IsoComponent>;
  /** Pixels of the portrait: pupils and the eye-to-chin distance T, from the clean analysis. */
  let face: { left: number; right: number; eyesY: number; t: number; ied: number; width: number; height: number };

  beforeAll(async () => {
    portrait = await jpeg(sharp(readFileSync(facePath('deepface_img29.jpg'))).resize({ height: 600 }));
    const analysis = await assess(portrait, m.models(), isoOptions);
    const g = analysis.faces[0].geometry;
    clean = await components(portrait);
    const t = measureIsoGeometry(analysis.faces[0].landmarks, g, analysis).eyesToChin;
    face = { left: g.pupilRight.x, right: g.pupilLeft.x, eyesY: (g.pupilLeft.y + g.pupilRight.y) / 2, t, ied: g.ipd, width: analysis.width, height: analysis.height };
  });

  /** The degraded image's component, asserted assessed and lower than the clean one by at least `by`. */
  async function falls(name: IsoComponentName, degraded: Buffer, by: number): Promise<IsoComponent> {
    const after = (await components(degraded))[name];
    expect({ name, code: after.code }).toEqual({ name, code: 'success' });
    expect({ name, clean: clean[name].scalar, degraded: after.scalar, fellBy: clean[name].scalar - after.scalar >= by }).toEqual({ name, clean: clean[name].scalar, degraded: after.scalar, fellBy: true });
    return after;
  }

  it('assesses every component of the clean portrait but head coverings', () => {
    for (const c of Object.values(clean)) expect({ name: c.name, code: c.code }).toEqual({ name: c.name, code: c.name === 'NoHeadCoverings' ? 'failure_to_assess' : 'success' });
  });

  it('blur lowers Sharpness (and the unified score)', async () => {
    const blurred = await jpeg(sharp(portrait).blur(face.ied * 0.1));
    expect((await falls('Sharpness', blurred, 40)).scalar).toBeLessThan(50);
    await falls('UnifiedQualityScore', blurred, 40);
  });

  it('heavy JPEG compression lowers CompressionArtifacts', async () => {
    const blocky = await sharp(portrait).jpeg({ quality: 2 }).toBuffer();
    await falls('CompressionArtifacts', blocky, 10);
  });

  it('crops through the face lower the leftward, rightward, above and below margins', async () => {
    const { left, right, eyesY, t, ied, width, height } = face;
    const cut = (region: { left: number; top: number; width: number; height: number }) => jpeg(sharp(portrait).extract(Object.fromEntries(Object.entries(region).map(([k, v]) => [k, Math.round(v)])) as typeof region));
    expect((await falls('LeftwardCropOfTheFaceImage', await cut({ left: left - 0.6 * ied, top: 0, width: width - (left - 0.6 * ied), height }), 40)).scalar).toBeLessThan(50);
    expect((await falls('RightwardCropOfTheFaceImage', await cut({ left: 0, top: 0, width: right + 0.6 * ied, height }), 40)).scalar).toBeLessThan(50);
    expect((await falls('MarginAboveOfTheFaceImage', await cut({ left: 0, top: eyesY - 0.9 * t, width, height: height - (eyesY - 0.9 * t) }), 20)).scalar).toBeLessThan(50);
    expect((await falls('MarginBelowOfTheFaceImage', await cut({ left: 0, top: 0, width, height: eyesY + 1.3 * t }), 40)).scalar).toBeLessThan(50);
  });

  it('rotation lowers HeadPoseRoll to the cosine-squared of the angle', async () => {
    const turned = await falls('HeadPoseRoll', await jpeg(sharp(portrait).rotate(35, { background: GREY })), 20);
    expect(Math.abs(turned.native as number)).toBeGreaterThan(30);
  });

  it('an open-mouthed, laughing face lowers MouthClosed and ExpressionNeutrality', async () => {
    const laughing = await jpeg(sharp(readFileSync(facePath('human_stock-emotions-a-6.jpg'))));
    expect((await falls('MouthClosed', laughing, 30)).scalar).toBeLessThan(50);
    expect((await falls('ExpressionNeutrality', laughing, 30)).scalar).toBeLessThan(50);
  });

  it('eyelids painted shut lower EyesOpen', async () => {
    const analysis = await assess(portrait, m.models(), isoOptions);
    const { data, info } = await sharp(portrait).raw().toBuffer({ resolveWithObject: true });
    const { rightEye, leftEye } = analysis.faces[0].landmarks;
    // Each eye's lid contour covered by skin taken below the eye, with a dark lash line across.
    const lids = [rightEye, leftEye].map((eye) => {
      const xs = eye.contour.slice(0, 16).map((p) => p.x);
      const ys = eye.contour.slice(0, 16).map((p) => p.y);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      const skin = (Math.round(y1 + (y1 - y0) * 1.5) * info.width + Math.round((x0 + x1) / 2)) * 3;
      const [w, h] = [Math.round((x1 - x0) * 1.3), Math.round((y1 - y0) * 1.6)];
      const svg = `<svg width="${w}" height="${h}"><ellipse cx="${w / 2}" cy="${h / 2}" rx="${w / 2}" ry="${h / 2}" fill="rgb(${data[skin]},${data[skin + 1]},${data[skin + 2]})"/><line x1="${w * 0.1}" y1="${h * 0.55}" x2="${w * 0.9}" y2="${h * 0.55}" stroke="rgb(40,30,30)" stroke-width="2"/></svg>`;
      return { input: Buffer.from(svg), left: Math.round((x0 + x1) / 2 - w / 2), top: Math.round((y0 + y1) / 2 - h / 2) };
    });
    await falls('EyesOpen', await jpeg(sharp(portrait).composite(lids)), 10);
  });

  it('a turned and a raised head lower HeadPoseYaw and HeadPosePitch', async () => {
    await falls('HeadPoseYaw', await jpeg(sharp(readFileSync(facePath('inspireface_pose_left_face.jpg')))), 20);
    await falls('HeadPosePitch', await jpeg(sharp(readFileSync(facePath('inspireface_pose_rise_face.jpg')))), 10);
  });

  it('darkening lowers LuminanceMean and, nearly black, UnderExposurePrevention; burning out lowers OverExposurePrevention', async () => {
    expect((await falls('LuminanceMean', await jpeg(sharp(portrait).linear(0.2, 0)), 40)).scalar).toBeLessThan(50);
    await falls('UnderExposurePrevention', await jpeg(sharp(portrait).linear(0.05, 0)), 20);
    await falls('OverExposurePrevention', await jpeg(sharp(portrait).linear(2.5, 40)), 50);
  });

  it('flattened contrast lowers LuminanceVariance and DynamicRange', async () => {
    const flat = await jpeg(sharp(portrait).linear(0.15, 128 * 0.85));
    await falls('LuminanceVariance', flat, 30);
    await falls('DynamicRange', flat, 20);
  });

  it('a colour cast lowers NaturalColour', async () => {
    const cast = await jpeg(sharp(portrait).recomb([[0.5, 0, 0], [0, 1, 0], [0, 0, 1.5]]));
    await falls('NaturalColour', cast, 20);
  });

  it('light from one side lowers IlluminationUniformity', async () => {
    const { width, height, left, right } = face;
    const split = Math.round((left + right) / 2);
    const shade = await sharp({ create: { width: width - split, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.75 } } }).png().toBuffer();
    await falls('IlluminationUniformity', await jpeg(sharp(portrait).composite([{ input: shade, left: split, top: 0 }])), 15);
  });

  it('a cluttered background lowers BackgroundUniformity, against the same portrait on a plain one', async () => {
    const { width, height } = face;
    const canvas = { width: width * 3, height: height + 200 };
    const texture = Buffer.alloc(canvas.width * canvas.height * 3);
    for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) texture.fill(((x >> 2) + (y >> 2)) % 2 === 0 ? 30 : 225, (y * canvas.width + x) * 3, (y * canvas.width + x) * 3 + 3);
    const framed = (background: sharp.Sharp) => jpeg(background.composite([{ input: portrait, left: width, top: 200 }]));
    const plain = (await components(await framed(sharp({ create: { ...canvas, channels: 3, background: GREY } }))))['BackgroundUniformity'];
    const cluttered = (await components(await framed(sharp(texture, { raw: { ...canvas, channels: 3 } }))))['BackgroundUniformity'];
    expect([plain.code, cluttered.code]).toEqual(['success', 'success']);
    expect(plain.scalar - cluttered.scalar).toBeGreaterThanOrEqual(30);
  });

  it('a second face lowers SingleFacePresent; shrinking the face lowers InterEyeDistance and HeadSize', async () => {
    const { width, height } = face;
    const second = await sharp(portrait).resize({ height: Math.round(height * 0.8) }).toBuffer();
    const pair = await jpeg(sharp({ create: { width: width * 2, height, channels: 3, background: GREY } }).composite([{ input: portrait, left: 0, top: 0 }, { input: second, left: width, top: 0 }]));
    expect((await falls('SingleFacePresent', pair, 40)).native).toBeGreaterThan(0.4);
    const small = await sharp(portrait).resize({ height: Math.round(height * 0.35) }).toBuffer();
    const far = await jpeg(sharp({ create: { width, height, channels: 3, background: GREY } }).composite([{ input: small, left: 0, top: 0 }]));
    expect((await falls('InterEyeDistance', far, 30)).scalar).toBeLessThan(50);
    await falls('HeadSize', far, 1);
  });

  it('covering the eyes lowers EyesVisible; covering the mouth, MouthOcclusionPrevention and FaceOcclusionPrevention', async () => {
    const { left, right, eyesY, t, ied } = face;
    const bar = (w: number, h: number) => sharp({ create: { width: Math.round(w), height: Math.round(h), channels: 3, background: { r: 20, g: 20, b: 20 } } }).png().toBuffer();
    const eyesCovered = await jpeg(sharp(portrait).composite([{ input: await bar(right - left + 1.2 * ied, 0.6 * ied), left: Math.round(left - 0.6 * ied), top: Math.round(eyesY - 0.3 * ied) }]));
    await falls('EyesVisible', eyesCovered, 30);
    const mouthCovered = await jpeg(sharp(portrait).composite([{ input: await bar(right - left + 0.8 * ied, 0.7 * t), left: Math.round(left - 0.4 * ied), top: Math.round(eyesY + 0.45 * t) }]));
    await falls('MouthOcclusionPrevention', mouthCovered, 30);
    await falls('FaceOcclusionPrevention', mouthCovered, 5);
  });
});
