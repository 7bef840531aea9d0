import { loadConfig } from '../../src/config';
import { fiqaVerdict } from '../../src/gate/fiqa';
import { countedPhotoVerdict, photoVerdict } from '../../src/gate/photo-rules';
import type { FaceAnalysis, FaceReport } from '../../src/pipeline/analyze';
import { OCCLUSION_REGIONS } from '../../src/pipeline/occlusion';

const { fiqa, photo } = loadConfig({}).gate;

type Change = (f: { geometry: Record<string, unknown>; photometry: Record<string, number>; occlusion: Record<string, number> }) => void;

/** A face that passes every photo rule of the default config; pure data for the rules' logic. */
function face(change: Change = () => undefined, confidence = 0.95): FaceReport {
  const report = {
    detection: { confidence },
    quality: { score: 0.8 },
    occlusion: Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, 0.1])),
    geometry: {
      faceAreaRatio: 0.3, centerOffset: { x: 0.01, y: -0.05 }, margins: { left: 100, top: 80, right: 100, bottom: 120 }, faceBox: { x: 100, y: 80, width: 300, height: 400 },
      yaw: 2, pitch: -3, roll: 1, glassesScore: 0.1, eyeOpennessRight: 0.3, eyeOpennessLeft: 0.3, mouthOpenness: 0.03, smileScore: 0.1,
    },
    photometry: { brightness: 0.5, underExposed: 0.01, overExposed: 0, illuminationUniformity: 0.9, sharpness: 400 },
  };
  change(report);
  return report as unknown as FaceReport;
}
const analysis = (...faces: FaceReport[]): FaceAnalysis => ({ width: 500, height: 600, format: 'jpeg', bytes: 1000, faces });

describe('photo rules', () => {
  it('accept a face within every limit', () => {
    expect(photoVerdict(analysis(face()), photo)).toMatchObject({ accepted: true, failures: [] });
  });

  it('count only faces at the detection threshold', () => {
    expect(photoVerdict(analysis(), photo).status).toBe('no_faces');
    expect(photoVerdict(analysis(face(undefined, photo.detection - 0.01)), photo).status).toBe('no_faces');
    expect(photoVerdict(analysis(face(), face()), photo)).toMatchObject({ status: 'multiple_faces', failures: [{ check: 'face_count', value: 2, max: 1 }] });
    expect(photoVerdict(analysis(face(), face(undefined, photo.detection - 0.01)), photo).accepted).toBe(true);
  });

  it('refuse a face count alone as they refuse the whole analysis of that many faces', () => {
    expect(countedPhotoVerdict({ faceCount: 2 }, photo)).toEqual(photoVerdict(analysis(face(), face()), photo));
    expect(countedPhotoVerdict({ faceCount: 0 }, photo)).toEqual(photoVerdict(analysis(), photo));
    const one = analysis(face((f) => void (f.geometry.yaw = 40)));
    expect(countedPhotoVerdict({ faceCount: 1, analysis: one }, photo)).toEqual(photoVerdict(one, photo));
  });

  it('name the first failure in the documented order and list every failure with its value and limit', () => {
    const verdict = photoVerdict(analysis(face((f) => {
      f.photometry.sharpness = 10;
      f.geometry.smileScore = 0.9;
      f.geometry.roll = -30;
      f.occlusion.mouth = 0.99;
    })), photo);
    expect(verdict.status).toBe('inclined_face');
    expect(verdict.failures).toEqual([
      { image_status: 'inclined_face', check: 'roll', value: 30, max: photo.maxRoll },
      { image_status: 'wearing_acessories', check: 'occlusion_mouth', value: 0.99, max: photo.occlusion },
      { image_status: 'facial_expression', check: 'smile', value: 0.9, max: photo.maxSmile },
      { image_status: 'sharpness_problem', check: 'sharpness', value: 10, min: photo.minSharpness },
    ]);
  });

  it.each<[string, Change]>([
    ['close_face', (f) => { f.geometry.faceAreaRatio = 0.9; }],
    ['distant_face', (f) => { f.geometry.faceAreaRatio = 0.05; }],
    ['not_centered', (f) => { f.geometry.margins = { left: -40, top: 80, right: 100, bottom: 120 }; }],
    ['brightness_problem', (f) => { f.photometry.brightness = 0.1; }],
    ['wearing_acessories', (f) => { f.geometry.glassesScore = 0.95; }],
    ['facial_expression', (f) => { f.geometry.eyeOpennessLeft = 0.02; }],
  ])('answer %s for its defect alone', (status, change) => {
    expect(photoVerdict(analysis(face(change)), photo).status).toBe(status);
  });
});

describe('FIQA verdict', () => {
  it('stops at the face count, then at occlusion, then judges quality', () => {
    expect(fiqaVerdict(analysis(), fiqa)).toEqual({ outcome: 'face_count', faceCount: 0 });
    expect(fiqaVerdict(analysis(face(), face()), fiqa)).toEqual({ outcome: 'face_count', faceCount: 2 });
    const occluded = fiqaVerdict(analysis(face((f) => { f.occlusion.nose = fiqa.occlusion; })), fiqa);
    expect(occluded.outcome).toBe('occluded');
    expect(occluded.iqa).toBeUndefined();
    expect(Object.entries(occluded.occlusion?.regions ?? {}).filter(([, v]) => v)).toEqual([['nose', true]]);
    expect(fiqaVerdict(analysis(face()), { ...fiqa, iqa: 0.81 })).toMatchObject({ outcome: 'low_quality', iqa: { accepted: false, score: 0.8 } });
    expect(fiqaVerdict(analysis(face()), { ...fiqa, iqa: 0.8 })).toMatchObject({ outcome: 'accepted', iqa: { accepted: true, score: 0.8 } });
  });
});
