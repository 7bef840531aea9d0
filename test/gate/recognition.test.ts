import { chooseFace, enrollableFace, matchScore, probeOf, sameFaceAs, videoLivenessPasses } from '../../src/gate/recognition';
import type { FaceAnalysis, FaceReport } from '../../src/pipeline/analyze';
import { OCCLUSION_REGIONS } from '../../src/pipeline/occlusion';
import type { Point3 } from '../../src/pipeline/types';

const unit = (...values: number[]) => {
  const norm = Math.hypot(...values);
  return Float32Array.from(values, (v) => v / norm);
};

/** Pure data standing for one analysed face: box size, quality, embedding, liveness. */
/** 468 points with depth, and the same turned a little: each point shifts by its depth, which no flat picture's motion does. */
const MESH: Point3[] = Array.from({ length: 468 }, (_, k) => ({ x: 320 + 80 * Math.cos(k * 0.7) * (1 + (k % 7) / 10), y: 240 + 100 * Math.sin(k * 0.7), z: 40 * Math.cos(k * 1.3) }));
const TURNED: Point3[] = MESH.map((p) => ({ ...p, x: p.x + 0.3 * p.z }));

function face(side: number, options: { quality?: number; embedding?: Float32Array; antispoof?: number; ipd?: number; occluded?: boolean; mesh?: Point3[] } = {}): FaceReport {
  return {
    detection: { confidence: 0.95 },
    geometry: { faceBox: { x: 0, y: 0, width: side, height: side }, ipd: options.ipd ?? side / 3 },
    occlusion: Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, options.occluded && r === 'mouth' ? 0.9 : 0.1])),
    quality: { score: options.quality ?? 0.8, credits: { resolution: 0.5 } },
    embedding: options.embedding ?? unit(1, 0, 0),
    liveness: { antispoof: options.antispoof ?? 0.9, liveness: 0.9 },
    landmarks: { mesh: options.mesh ?? MESH },
  } as unknown as FaceReport;
}
const frame = (...faces: FaceReport[]): FaceAnalysis => ({ width: 640, height: 480, format: 'jpeg', bytes: 1, faces });
const choice = { detection: 0.7, dominantFace: 4 };

describe('recognition rules', () => {
  it('use the largest face only when it dwarfs the next one', () => {
    expect(chooseFace(frame(), choice)).toEqual({ ok: false, problem: 'NO_FACE_DETECTED' });
    expect(chooseFace(frame(face(200), face(90)), choice)).toMatchObject({ ok: true });
    expect(chooseFace(frame(face(200), face(110)), choice)).toEqual({ ok: false, problem: 'MULTIPLE_FACES_DETECTED' });
  });

  it('judge enrollment quality by the score, and size by the inter-pupil distance', () => {
    const rules = { ...choice, occlusion: 0.6, iqa: 0.435, minIpd: 24 };
    expect(enrollableFace(frame(face(120, { quality: 0.5 })), rules)).toMatchObject({ ok: true });
    expect(enrollableFace(frame(face(120, { quality: 0.4 })), rules)).toEqual({ ok: false, problem: 'LOW_IMAGE_QUALITY' });
    expect(enrollableFace(frame(face(120, { ipd: 20 })), rules)).toEqual({ ok: false, problem: 'LOW_IMAGE_QUALITY' });
    expect(enrollableFace(frame(face(120, { occluded: true })), rules)).toEqual({ ok: false, problem: 'FACE_OCCLUDED' });
    const live = { ...rules, liveness: { minAntispoof: 0.5, minLiveness: 0.5 } };
    expect(enrollableFace(frame(face(120, { antispoof: 0.2 })), live)).toEqual({ ok: false, problem: 'LIVENESS_FAILED' });
  });

  it('fuse the best frames of a video into one unit embedding and average liveness over all frames', () => {
    const frames = [
      frame(face(120, { quality: 0.9, embedding: unit(1, 0, 0), antispoof: 0.8 })),
      frame(),
      frame(face(120, { quality: 0.7, embedding: unit(0, 1, 0), antispoof: 0.6 })),
      frame(face(120, { quality: 0.2, embedding: unit(0, 0, 1), antispoof: 0.1 })),
    ];
    const probe = probeOf(frames, choice, 2);
    if (!probe.ok) throw new Error('expected a probe');
    expect(Array.from(probe.value.embedding)).toEqual([expect.closeTo(Math.SQRT1_2, 6), expect.closeTo(Math.SQRT1_2, 6), 0]);
    expect(probe.value.frames).toBe(3);
    expect(probe.value.liveness.antispoof).toBeCloseTo(0.5, 10);
    expect(probeOf([frame(), frame()], choice, 2)).toEqual({ ok: false, problem: 'NO_FACE_DETECTED' });
    expect(probeOf([frames[0], frame(face(120), face(110))], choice, 2)).toEqual({ ok: false, problem: 'MULTIPLE_FACES_DETECTED' });
  });

  it('pass a video only when the face itself moves and the liveness scores pass', () => {
    const limits = { minAntispoof: 0.5, minLiveness: 0.5, minFaceMotion: 0.05 };
    const probeOfMeshes = (...meshes: Point3[][]) => {
      const probe = probeOf(meshes.map((mesh) => frame(face(120, { mesh }))), choice, 3);
      if (!probe.ok) throw new Error('expected a probe');
      return probe.value;
    };
    expect(probeOfMeshes(MESH, TURNED, MESH).meshes).toEqual([MESH, TURNED, MESH]);
    expect(videoLivenessPasses(probeOfMeshes(MESH, TURNED, MESH), limits)).toBe(true);
    // The same picture in every frame, or moved as a whole, is not a live face.
    expect(videoLivenessPasses(probeOfMeshes(MESH, MESH, MESH), limits)).toBe(false);
    const shifted = MESH.map((p) => ({ x: 1.2 * p.x + 30, y: 1.2 * p.y - 10, z: 0 }));
    expect(videoLivenessPasses(probeOfMeshes(MESH, shifted, MESH), limits)).toBe(false);
    expect(videoLivenessPasses({ ...probeOfMeshes(MESH, TURNED, MESH), liveness: { antispoof: 0.2, liveness: 0.9 } }, limits)).toBe(false);
  });

  it('score against the best template and find the most similar enrolled user above a threshold', () => {
    const probe = unit(1, 1, 0);
    expect(matchScore(probe, [unit(0, 0, 1), unit(1, 0, 0)])).toBeCloseTo(Math.SQRT1_2, 6);
    const enrolled = [
      { username: 'far', embedding: unit(0, 0, 1) },
      { username: 'near', embedding: unit(1, 0.9, 0) },
      { username: 'nearer', embedding: unit(1, 1, 0.05) },
    ];
    expect(sameFaceAs(probe, enrolled, 0.9)).toBe('nearer');
    expect(sameFaceAs(probe, enrolled, 0.9999)).toBeUndefined();
  });
});
