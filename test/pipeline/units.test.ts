import { ANCHORS, detectionViews, iou, overlapOfSmaller, weightedNms } from '../../src/pipeline/detect';
import { applyAffine, cropToImage, squareCrop } from '../../src/pipeline/image-ops';
import { laplacianVariance } from '../../src/pipeline/photometry';

describe('detector geometry', () => {
  it('lays out 896 anchors: 16x16 cells of 2, then 8x8 cells of 6', () => {
    expect(ANCHORS).toHaveLength(896);
    expect(ANCHORS[0]).toEqual({ x: 8, y: 8 });
    expect(ANCHORS[511]).toEqual({ x: 248, y: 248 });
    expect(ANCHORS[512]).toEqual({ x: 16, y: 16 });
    expect(ANCHORS[895]).toEqual({ x: 240, y: 240 });
  });

  it('tiles only frames whose smallest wanted face would be too small in the whole view', () => {
    expect(detectionViews(640, 480, 40)).toHaveLength(2);
    const views = detectionViews(1920, 1080, 40);
    expect(views.length).toBeGreaterThan(2);
    const tiles = views.slice(2);
    for (const tile of tiles) {
      expect(tile.x).toBeGreaterThanOrEqual(0);
      expect(tile.x + tile.side).toBeLessThanOrEqual(1920 + 1e-9);
      expect(tile.side).toBe(640);
    }
  });

  it('merges overlapping candidates into their score-weighted mean', () => {
    const kp = (x: number) => Array.from({ length: 6 }, () => ({ x, y: x }));
    const merged = weightedNms(
      [
        { box: { x: 0, y: 0, width: 10, height: 10 }, score: 0.9, keypoints: kp(0) },
        { box: { x: 2, y: 0, width: 10, height: 10 }, score: 0.3, keypoints: kp(4) },
        { box: { x: 50, y: 50, width: 10, height: 10 }, score: 0.6, keypoints: kp(50) },
      ],
      0.3,
      10,
    );
    expect(merged).toHaveLength(2);
    expect(merged[0].box.x).toBeCloseTo(0.5);
    expect(merged[0].score).toBe(0.9);
    expect(merged[0].keypoints[0].x).toBeCloseTo(1);
    expect(merged[1].box.x).toBe(50);
  });

  it('measures overlap as IoU and as a share of the smaller box', () => {
    const big = { x: 0, y: 0, width: 10, height: 10 };
    const inner = { x: 2, y: 2, width: 5, height: 5 };
    expect(iou(big, inner)).toBeCloseTo(0.25);
    expect(overlapOfSmaller(big, inner)).toBe(1);
    expect(overlapOfSmaller(big, { x: 20, y: 20, width: 5, height: 5 })).toBe(0);
  });
});

describe('affine crops', () => {
  it('maps a crop onto the requested square, turned and mirrored', () => {
    const m = squareCrop({ x: 50, y: 40 }, 20, 0, 10);
    expect(applyAffine(m, { x: 5, y: 5 })).toEqual({ x: 50, y: 40 });
    expect(applyAffine(m, { x: 0, y: 0 })).toEqual({ x: 40, y: 30 });
    const turned = squareCrop({ x: 0, y: 0 }, 10, Math.PI / 2, 10);
    const p = applyAffine(turned, { x: 10, y: 5 });
    expect(p.x).toBeCloseTo(0);
    expect(p.y).toBeCloseTo(5);
    const mirrored = squareCrop({ x: 50, y: 40 }, 20, 0, 10, true);
    expect(applyAffine(mirrored, { x: 0, y: 5 })).toEqual({ x: 60, y: 40 });
  });

  it('samples pixels through the map (identity crop reproduces the image)', () => {
    const data = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => i * 5);
    const image = { data, width: 4, height: 4 };
    const same = cropToImage(image, squareCrop({ x: 2, y: 2 }, 4, 0, 4), 4, 4);
    expect(Array.from(same.data)).toEqual(Array.from(data));
  });
});

describe('laplacianVariance', () => {
  it('is zero on a flat or linear plane and grows with fine detail', () => {
    const flat = new Float32Array(100).fill(7);
    expect(laplacianVariance(flat, 10, 10)).toBe(0);
    const ramp = Float32Array.from({ length: 100 }, (_, i) => i % 10);
    expect(laplacianVariance(ramp, 10, 10)).toBeCloseTo(0);
    const checker = Float32Array.from({ length: 100 }, (_, i) => ((i % 10) + Math.floor(i / 10)) % 2 * 255);
    expect(laplacianVariance(checker, 10, 10)).toBeGreaterThan(100000);
  });
});
