import { ARCFACE_TEMPLATE_112, arcfaceAlignment, similarityFit } from '../../src/pipeline/align';
import { applyAffine } from '../../src/pipeline/image-ops';
import type { Landmarks, Point } from '../../src/pipeline/types';

/** Landmarks whose five alignment points are `points` (the rest of the mesh is irrelevant here). */
function landmarksAt(points: Point[]): Landmarks {
  const mesh = Array.from({ length: 468 }, () => ({ x: 0, y: 0, z: 0 }));
  mesh[4] = { ...points[2], z: 0 };
  mesh[61] = { ...points[3], z: 0 };
  mesh[291] = { ...points[4], z: 0 };
  const eye = (p: Point) => ({ pupil: p, irisRadius: 3, contour: [] });
  return { mesh, meshScore: 1, rightEye: eye(points[0]), leftEye: eye(points[1]) };
}

describe('five-point alignment', () => {
  const turn = (p: Point, s: number, angle: number, t: Point): Point => ({
    x: s * (Math.cos(angle) * p.x - Math.sin(angle) * p.y) + t.x,
    y: s * (Math.sin(angle) * p.x + Math.cos(angle) * p.y) + t.y,
  });

  it('recovers a similarity exactly from points it moved', () => {
    const from = [{ x: 10, y: 20 }, { x: 50, y: 22 }, { x: 31, y: 40 }, { x: 15, y: 61 }, { x: 47, y: 60 }];
    const to = from.map((p) => turn(p, 2.5, 0.3, { x: 100, y: -40 }));
    const fit = similarityFit(from, to);
    from.forEach((p, i) => {
      expect(applyAffine(fit, p).x).toBeCloseTo(to[i].x, 9);
      expect(applyAffine(fit, p).y).toBeCloseTo(to[i].y, 9);
    });
  });

  it('puts a face turned, scaled and shifted in the image onto the template, and mirrors it on request', () => {
    const inImage = ARCFACE_TEMPLATE_112.map((p) => turn(p, 3.2, -0.4, { x: 400, y: 250 }));
    const face = landmarksAt(inImage);
    const toImage = arcfaceAlignment(face, 112);
    ARCFACE_TEMPLATE_112.forEach((p, i) => {
      // Template points are pixel centres: continuous coordinate p + 0.5.
      const q = applyAffine(toImage, { x: p.x + 0.5, y: p.y + 0.5 });
      expect(q.x).toBeCloseTo(inImage[i].x, 6);
      expect(q.y).toBeCloseTo(inImage[i].y, 6);
    });
    const mirrored = arcfaceAlignment(face, 112, true);
    const a = applyAffine(mirrored, { x: 112 - 30.25, y: 40 });
    const b = applyAffine(toImage, { x: 30.25, y: 40 });
    expect([a.x, a.y]).toEqual([expect.closeTo(b.x, 9), expect.closeTo(b.y, 9)]);
  });
});
