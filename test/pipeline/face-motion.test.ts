import { applyHomography, faceMotion, fitHomography, type Homography } from '../../src/pipeline/face-motion';
import type { Point3 } from '../../src/pipeline/types';
import { seededRandom } from '../helpers/random';

/** Upper-lid FaceMesh points of both eyes. */
const UPPER_LIDS = [246, 161, 160, 159, 158, 157, 173, 466, 388, 387, 386, 385, 384, 398];

/** A face-like 468-point mesh: points over an ellipse, depth a dome, eye corners and lids where a face has them. */
function baseMesh(seed = 1): Point3[] {
  const random = seededRandom(seed);
  const mesh: Point3[] = [];
  for (let i = 0; i < 468; i++) {
    const a = random() * 2 * Math.PI;
    const r = Math.sqrt(random());
    const x = 320 + 80 * r * Math.cos(a);
    const y = 240 + 100 * r * Math.sin(a);
    mesh.push({ x, y, z: -40 * (1 - r * r) });
  }
  const set = (i: number, x: number, y: number) => (mesh[i] = { x, y, z: -30 });
  set(33, 260, 210);
  set(133, 300, 210);
  set(362, 340, 210);
  set(263, 380, 210);
  set(159, 280, 204);
  set(145, 280, 216);
  set(386, 360, 204);
  set(374, 360, 216);
  set(13, 320, 300);
  set(14, 320, 304);
  set(61, 295, 302);
  set(291, 345, 302);
  return mesh;
}

const transformed = (mesh: Point3[], h: Homography): Point3[] => mesh.map((p) => ({ ...applyHomography(h, p), z: p.z }));

function similarity(scale: number, angle: number, tx: number, ty: number): Homography {
  const c = scale * Math.cos(angle);
  const s = scale * Math.sin(angle);
  return [c, -s, tx, s, c, ty, 0, 0, 1];
}

/** Landmark jitter of `sigma` pixels. */
function jittered(mesh: Point3[], sigma: number, seed: number): Point3[] {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return mesh.map((p) => ({ x: p.x + sigma * gauss(), y: p.y + sigma * gauss(), z: p.z }));
}

describe('fitHomography', () => {
  it('recovers a projective transform from exact correspondences', () => {
    const mesh = baseMesh();
    const h: Homography = [1.1, 0.05, 12, -0.03, 0.95, -7, 0.0002, -0.0001, 1];
    const fitted = fitHomography(mesh, transformed(mesh, h));
    fitted.forEach((v, i) => expect(v).toBeCloseTo(h[i], 6));
  });
});

describe('faceMotion', () => {
  const mesh = baseMesh();
  /** RMS radius of the base mesh's points, the measure's unit. */
  const radius = Math.sqrt((80 ** 2 + 100 ** 2) / 4);

  it('scores ~0 for one mesh moved by similarities and a homography (a photo panned, zoomed, rotated, tilted)', () => {
    const frames = [mesh, transformed(mesh, similarity(1.2, 0.1, 30, -10)), transformed(mesh, similarity(0.8, -0.2, -40, 25)), transformed(mesh, [1, 0.1, 0, 0, 1, 0, 0.0008, 0.0003, 1])];
    const motion = faceMotion(frames);
    expect(motion.frames).toBe(4);
    expect(motion.nonRigid).toBeLessThan(1e-6);
    expect(motion.nonRigidLocal).toBeLessThan(1e-6);
    // Ratios of lengths survive a similarity, not a strong perspective: the eye opening is compared on the similarities only.
    expect(faceMotion(frames.slice(0, 3)).eyeOpennessRange).toBeLessThan(1e-9);
  });

  it('scores ~0 for identical frames', () => {
    const motion = faceMotion([mesh, mesh, mesh]);
    expect(motion.nonRigid).toBeLessThan(1e-9);
    expect(motion.eyeOpennessRange).toBe(0);
  });

  it('scores high when the upper lids close (a blink), in the local measure and the eye opening', () => {
    const blink = mesh.map((p, i) => (UPPER_LIDS.includes(i) ? { ...p, y: p.y + 10 } : p));
    const still = faceMotion([mesh, transformed(mesh, similarity(1.05, 0.05, 5, 5))]);
    const motion = faceMotion([mesh, transformed(blink, similarity(1.05, 0.05, 5, 5))]);
    expect(motion.nonRigidLocal).toBeGreaterThan(0.05);
    expect(motion.nonRigidLocal).toBeGreaterThan(100 * still.nonRigidLocal + 0.01);
    expect(motion.eyeOpennessRange).toBeGreaterThan(0.2);
  });

  it('scores high when the face turns (points shift in x with their depth)', () => {
    const turned = mesh.map((p) => ({ ...p, x: p.x + 0.3 * p.z }));
    const motion = faceMotion([mesh, turned]);
    expect(motion.nonRigid).toBeGreaterThan(0.03);
  });

  it('keeps landmark jitter well below a turn', () => {
    const noisy = faceMotion([mesh, jittered(mesh, 0.5, 2), jittered(transformed(mesh, similarity(1.1, 0.1, 10, 0)), 0.5, 3)]);
    expect(noisy.nonRigid).toBeGreaterThan(0);
    expect(noisy.nonRigid).toBeLessThan(1.5 / radius);
  });

  it('needs two frames to measure anything', () => {
    expect(faceMotion([mesh]).nonRigid).toBe(0);
    expect(faceMotion([]).frames).toBe(0);
  });
});
