/**
 * Attempt 1's hand-made occlusion features (docs/occlusion.md): the model shipped until attempt 2
 * read these. Kept only so that `npm run train:occlusion -- --select` can score them beside the
 * learned features on the same samples and folds.
 */
import { cropToImage } from '../src/pipeline/image-ops';
import { meshRegion } from '../src/pipeline/landmarks';
import { OCCLUSION_REGIONS, REGION_POLYGONS } from '../src/pipeline/occlusion-regions';
import { regionMap } from '../src/pipeline/crop';
import type { Landmarks, Point, RgbImage } from '../src/pipeline/types';

/** The face is measured in a roll-aligned square of this many pixels spanning 1.1x the mesh. */
const FRAME = 128;
const FRAME_SCALE = 1.1;
/** Each region's bounding box is split into GRID x GRID cells. */
const GRID = 4;
/** Per cell: luminance, blue and red chroma, gradient energy. */
const MEASURES = 4;
export const HANDMADE_FEATURES = OCCLUSION_REGIONS.length * GRID * GRID * MEASURES;

interface Planes {
  lum: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
  grad: Float32Array;
}

function planes(face: RgbImage): Planes {
  const n = face.width * face.height;
  const lum = new Float32Array(n);
  const cb = new Float32Array(n);
  const cr = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [face.data[i * 3], face.data[i * 3 + 1], face.data[i * 3 + 2]];
    lum[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    cb[i] = -0.1687 * r - 0.3313 * g + 0.5 * b;
    cr[i] = 0.5 * r - 0.4187 * g - 0.0813 * b;
  }
  const grad = new Float32Array(n);
  const w = face.width;
  for (let y = 1; y < face.height - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      grad[i] = Math.hypot(lum[i + 1] - lum[i - 1], lum[i + w] - lum[i - w]);
    }
  }
  return { lum, cb, cr, grad };
}

/** The value at index length/2 of the sorted values, found by quickselect (a full sort took 7 ms per face). */
function median(values: Float32Array): number {
  const a = Float32Array.from(values);
  const k = a.length >> 1;
  let [low, high] = [0, a.length - 1];
  while (low < high) {
    const pivot = a[(low + high) >> 1];
    let [i, j] = [low, high];
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        [a[i], a[j]] = [a[j], a[i]];
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else break;
  }
  return a[k];
}

/**
 * What the occlusion model reads: for every region, the mean luminance, chroma and gradient
 * energy of each cell of its bounding box, relative to the face's own medians (so skin tone and
 * exposure cancel out). Occluders change these against what a bare face shows there.
 */
export function handmadeFeatures(image: RgbImage, landmarks: Landmarks): Float32Array {
  const region = meshRegion(landmarks.mesh, FRAME_SCALE);
  const map = regionMap(region, FRAME);
  const face = cropToImage(image, map, FRAME, FRAME);
  const p = planes(face);
  const reference = { lum: median(p.lum), cb: median(p.cb), cr: median(p.cr), grad: median(p.grad) + 1 };
  const spread = Math.max(8, median(p.lum.map((v) => Math.abs(v - reference.lum))));
  // Mesh points into the frame: invert the frame's similarity map.
  const det = map.a * map.e - map.b * map.d;
  const toFrame = (q: Point): Point => {
    const dx = q.x - map.c;
    const dy = q.y - map.f;
    return { x: (map.e * dx - map.b * dy) / det, y: (-map.d * dx + map.a * dy) / det };
  };
  const features = new Float32Array(HANDMADE_FEATURES);
  let k = 0;
  for (const name of OCCLUSION_REGIONS) {
    const outline = REGION_POLYGONS[name].map((i) => toFrame(landmarks.mesh[i]));
    const xs = outline.map((q) => q.x);
    const ys = outline.map((q) => q.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    for (let gy = 0; gy < GRID; gy++) {
      for (let gx = 0; gx < GRID; gx++) {
        const left = Math.max(0, Math.floor(x0 + ((x1 - x0) * gx) / GRID));
        const right = Math.min(FRAME, Math.max(left + 1, Math.ceil(x0 + ((x1 - x0) * (gx + 1)) / GRID)));
        const top = Math.max(0, Math.floor(y0 + ((y1 - y0) * gy) / GRID));
        const bottom = Math.min(FRAME, Math.max(top + 1, Math.ceil(y0 + ((y1 - y0) * (gy + 1)) / GRID)));
        let [lum, cb, cr, grad, n] = [0, 0, 0, 0, 0];
        for (let y = top; y < bottom; y++) {
          for (let x = left; x < right; x++) {
            const i = y * FRAME + x;
            lum += p.lum[i];
            cb += p.cb[i];
            cr += p.cr[i];
            grad += p.grad[i];
            n++;
          }
        }
        n = Math.max(n, 1);
        features[k++] = (lum / n - reference.lum) / spread;
        features[k++] = (cb / n - reference.cb) / spread;
        features[k++] = (cr / n - reference.cr) / spread;
        features[k++] = Math.log((grad / n + 1) / reference.grad);
      }
    }
  }
  return features;
}
