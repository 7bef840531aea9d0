import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import type { ModelRegistry } from '../../src/models/registry';
import { type AnalysisOptions, analyze } from '../../src/pipeline/analyze';
import type { Point3 } from '../../src/pipeline/types';
import { executablePath } from '../../src/pipeline/video';

export type VideoFormat = 'mp4' | 'webm';

/** Frames a second of every generated clip. */
const RATE = 10;
/** Width of every generated clip. */
const WIDTH = 640;

const codecArgs = (format: VideoFormat) => (format === 'mp4' ? ['-pix_fmt', 'yuv420p', '-c:v', 'libx264'] : ['-c:v', 'libvpx']);

/** The service's ffmpeg (config video.ffmpegPath), here with its encoders. */
const FFMPEG = executablePath(loadConfig().video.ffmpegPath);

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    execFile(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 }, (e, _out, err) => (e ? reject(new Error(`ffmpeg: ${err || e.message}`)) : resolve())),
  );
}

async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-video-test-'));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `seconds` of ffmpeg's test pattern at 10 frames a second, `width`x`height`, encoded with `args`
 * (codec options, and any further input such as a sound) into `out.<extension>`, whose extension
 * picks the container.
 */
export function testPattern({ width = 320, height = 240, seconds = 2, args = ['-pix_fmt', 'yuv420p', '-c:v', 'libx264'], extension = 'mp4' } = {}): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const out = join(dir, `out.${extension}`);
    await runFfmpeg(['-f', 'lavfi', '-t', String(seconds), '-i', `testsrc=size=${width}x${height}:rate=${RATE}`, ...args, out]);
    return readFileSync(out);
  });
}

/** `still` looped for `seconds` at 10 frames a second, through the ffmpeg filter chain `filter`. */
function stillThrough(still: Buffer, filter: string, seconds: number, format: VideoFormat): Promise<Buffer> {
  return inTempDir(async (dir) => {
    writeFileSync(join(dir, 'still.jpg'), still);
    const out = join(dir, `video.${format}`);
    await runFfmpeg(['-loop', '1', '-framerate', String(RATE), '-i', join(dir, 'still.jpg'), '-t', String(seconds), '-r', String(RATE), '-vf', filter, ...codecArgs(format), out]);
    return readFileSync(out);
  });
}

/** Height of `still` (EXIF-rotated) scaled to `width`, rounded to even as yuv420p needs. */
async function evenHeight(still: Buffer, width: number): Promise<number> {
  const meta = await sharp(still).metadata();
  const [w, h] = (meta.orientation ?? 1) >= 5 ? [meta.height!, meta.width!] : [meta.width!, meta.height!];
  return 2 * Math.round((width * h) / w / 2);
}

/** A short H.264 MP4 (or VP8 WebM) showing `still` for `seconds`. */
export async function videoOfStill(still: Buffer, seconds = 2, format: VideoFormat = 'mp4'): Promise<Buffer> {
  return stillThrough(still, `scale=${WIDTH}:-2`, seconds, format);
}

/** `still` panned left to right: a 640-wide window slides across it scaled to 800 wide. */
export async function pannedStill(still: Buffer, seconds = 3, format: VideoFormat = 'mp4'): Promise<Buffer> {
  const h = await evenHeight(still, WIDTH);
  return stillThrough(still, `scale=800:-2,crop=${WIDTH}:${h}:x='(iw-ow)*t/${seconds}':y='(ih-oh)/2'`, seconds, format);
}

/** `still` zoomed in steadily to 1.3 times about its centre. */
export async function zoomedStill(still: Buffer, seconds = 3, format: VideoFormat = 'mp4'): Promise<Buffer> {
  const h = await evenHeight(still, WIDTH);
  // zoompan rounds its window to whole pixels; working at 4x and scaling down keeps that jitter under a pixel.
  const frames = seconds * RATE;
  return stillThrough(
    still,
    `scale=${4 * WIDTH}:-2,zoompan=z='1+0.3*on/${frames}':d=1:x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s=${WIDTH}x${h}:fps=${RATE}`,
    seconds,
    format,
  );
}

/** `still` rotated in the image plane, swinging up to 12 degrees each way. */
export async function rotatedStill(still: Buffer, seconds = 3, format: VideoFormat = 'mp4'): Promise<Buffer> {
  return stillThrough(still, `scale=${WIDTH}:-2,rotate=a='0.21*sin(2*PI*t/${seconds})':c=black`, seconds, format);
}

/** `still` tilted away in 3-D (a photo held and turned about its vertical axis): a perspective warp growing over the clip. */
export async function tiltedStill(still: Buffer, seconds = 3, format: VideoFormat = 'mp4'): Promise<Buffer> {
  const k = `(0.12*in/${seconds * RATE})`;
  return stillThrough(still, `scale=${WIDTH}:-2,perspective=x0=0:y0='-H*${k}':x1=W:y1=0:x2=0:y2='H*(1+${k})':x3=W:y3=H:sense=destination:eval=frame`, seconds, format);
}

/** `still` looped with fresh per-frame noise (ffmpeg `noise=alls=20:allf=t`). */
export async function noisyStill(still: Buffer, seconds = 3, format: VideoFormat = 'mp4'): Promise<Buffer> {
  return stillThrough(still, `scale=${WIDTH}:-2,noise=alls=20:allf=t`, seconds, format);
}

/** The whole-picture replays an authentication video must refuse, by name. */
export const STILL_ATTACKS = {
  looped: (still: Buffer, seconds = 3) => videoOfStill(still, seconds),
  panned: pannedStill,
  zoomed: zoomedStill,
  rotated: rotatedStill,
  tilted: tiltedStill,
  noisy: noisyStill,
} as const;
export type StillAttack = keyof typeof STILL_ATTACKS;

/** Upper-lid FaceMesh points and the lower-lid points under them, both eyes. */
const LIDS: [number, number][] = [
  [246, 7], [161, 163], [160, 144], [159, 145], [158, 153], [157, 154], [173, 155],
  [466, 249], [388, 390], [387, 373], [386, 374], [385, 380], [384, 381], [398, 382],
];

export interface SyntheticMotion {
  /** Largest share of the lid gap closed (below 1, so the warp never folds). */
  blink: number;
  /** Largest head turn, degrees. */
  turnDegrees: number;
}

/** Mesh point displacements at clip phase u in [0, 1]: a blink peaking mid-clip and a turn one way then the other. */
function meshDisplacements(mesh: Point3[], u: number, motion: SyntheticMotion): { dx: number; dy: number }[] {
  const closure = motion.blink * Math.max(0, 1 - Math.abs(u - 0.5) / 0.3);
  const theta = ((motion.turnDegrees * Math.PI) / 180) * Math.sin(2 * Math.PI * u);
  const n = mesh.length;
  const xc = mesh.reduce((s, p) => s + p.x, 0) / n;
  const zc = mesh.reduce((s, p) => s + p.z, 0) / n;
  const d = mesh.map((p) => ({ dx: (p.x - xc) * (Math.cos(theta) - 1) + (p.z - zc) * Math.sin(theta), dy: 0 }));
  for (const [upper, lower] of LIDS) {
    d[upper].dx += closure * (mesh[lower].x - mesh[upper].x);
    d[upper].dy += closure * (mesh[lower].y - mesh[upper].y);
  }
  return d;
}

/** LU factors (partial pivoting) of a square matrix, to solve it for many right-hand sides. */
function luFactor(a: Float64Array[]): { lu: Float64Array[]; perm: number[] } {
  const n = a.length;
  const lu = a.map((row) => Float64Array.from(row));
  const perm = lu.map((_, i) => i);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(lu[r][c]) > Math.abs(lu[pivot][c])) pivot = r;
    [lu[c], lu[pivot]] = [lu[pivot], lu[c]];
    [perm[c], perm[pivot]] = [perm[pivot], perm[c]];
    for (let r = c + 1; r < n; r++) {
      const f = (lu[r][c] /= lu[c][c]);
      if (f !== 0) for (let k = c + 1; k < n; k++) lu[r][k] -= f * lu[c][k];
    }
  }
  return { lu, perm };
}

function luSolve({ lu, perm }: { lu: Float64Array[]; perm: number[] }, b: number[]): Float64Array {
  const n = lu.length;
  const x = Float64Array.from(perm, (p) => b[p]);
  for (let r = 0; r < n; r++) for (let k = 0; k < r; k++) x[r] -= lu[r][k] * x[k];
  for (let r = n - 1; r >= 0; r--) {
    for (let k = r + 1; k < n; k++) x[r] -= lu[r][k] * x[k];
    x[r] /= lu[r][r];
  }
  return x;
}

/** Mesh points kept as RBF centres: the lids first, then any point at least `spacing` from those kept (close centres make the system ill-conditioned). */
function rbfCentres(mesh: Point3[], spacing: number): number[] {
  const order = [...LIDS.map(([u]) => u), ...LIDS.map(([, l]) => l), ...mesh.map((_, i) => i)];
  const kept: number[] = [];
  for (const i of order) {
    if (kept.includes(i)) continue;
    if (kept.every((j) => Math.hypot(mesh[i].x - mesh[j].x, mesh[i].y - mesh[j].y) >= spacing)) kept.push(i);
  }
  return kept;
}

/**
 * Warps an image so that chosen mesh points move by given displacements: a Gaussian RBF interpolates
 * the displacements into a smooth forward field (zero far from the face), sampled on a grid, and each
 * output pixel finds its source by fixed-point inversion of that field (it converges while the field
 * compresses less than it displaces, which a partial blink keeps).
 */
function meshWarper(rgb: Buffer, width: number, height: number, mesh: Point3[], sigma: number) {
  const centres = rbfCentres(mesh, 0.7 * sigma);
  const pts = centres.map((i) => mesh[i]);
  const kernel = (dx: number, dy: number) => Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
  const factors = luFactor(pts.map((p, i) => Float64Array.from(pts, (q, j) => kernel(p.x - q.x, p.y - q.y) + (i === j ? 1e-4 : 0))));
  const reach = 4 * sigma;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of pts) [x0, y0, x1, y1] = [Math.min(x0, p.x), Math.min(y0, p.y), Math.max(x1, p.x), Math.max(y1, p.y)];
  // The field is taken as zero outside the centres' box widened by `reach`.
  [x0, y0] = [Math.max(0, Math.floor(x0 - reach)), Math.max(0, Math.floor(y0 - reach))];
  [x1, y1] = [Math.min(width - 1, Math.ceil(x1 + reach)), Math.min(height - 1, Math.ceil(y1 + reach))];
  const step = Math.max(1, Math.min(4, Math.floor(sigma / 3)));
  const gw = Math.ceil((x1 - x0) / step) + 2;
  const gh = Math.ceil((y1 - y0) / step) + 2;
  return (d: { dx: number; dy: number }[]): Buffer => {
    const wx = luSolve(factors, centres.map((i) => d[i].dx));
    const wy = luSolve(factors, centres.map((i) => d[i].dy));
    const fx = new Float32Array(gw * gh);
    const fy = new Float32Array(gw * gh);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++) {
        const [x, y] = [x0 + gx * step, y0 + gy * step];
        let [sx, sy] = [0, 0];
        for (let j = 0; j < pts.length; j++) {
          const ex = x - pts[j].x;
          const ey = y - pts[j].y;
          if (Math.abs(ex) > reach || Math.abs(ey) > reach) continue;
          const k = kernel(ex, ey);
          sx += k * wx[j];
          sy += k * wy[j];
        }
        fx[gy * gw + gx] = sx;
        fy[gy * gw + gx] = sy;
      }
    }
    let [ux, uy] = [0, 0];
    const field = (x: number, y: number) => {
      const u = Math.min(Math.max((x - x0) / step, 0), gw - 1.001);
      const v = Math.min(Math.max((y - y0) / step, 0), gh - 1.001);
      const i = Math.floor(u);
      const j = Math.floor(v);
      const s = u - i;
      const t = v - j;
      const a = j * gw + i;
      const b = a + gw;
      ux = (1 - t) * ((1 - s) * fx[a] + s * fx[a + 1]) + t * ((1 - s) * fx[b] + s * fx[b + 1]);
      uy = (1 - t) * ((1 - s) * fy[a] + s * fy[a + 1]) + t * ((1 - s) * fy[b] + s * fy[b + 1]);
    };
    const out = Buffer.from(rgb);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let [qx, qy] = [x, y];
        for (let it = 0; it < 8; it++) {
          field(qx, qy);
          [qx, qy] = [x - ux, y - uy];
        }
        const cx = Math.min(Math.max(qx, 0), width - 1.001);
        const cy = Math.min(Math.max(qy, 0), height - 1.001);
        const i = Math.floor(cx);
        const j = Math.floor(cy);
        const s = cx - i;
        const t = cy - j;
        const a = (j * width + i) * 3;
        const b = a + width * 3;
        const o = (y * width + x) * 3;
        for (let c = 0; c < 3; c++) out[o + c] = Math.round((1 - t) * ((1 - s) * rgb[a + c] + s * rgb[a + 3 + c]) + t * ((1 - s) * rgb[b + c] + s * rgb[b + 3 + c]));
      }
    }
    return out;
  };
}

/**
 * SYNTHETIC evidence: a clip of genuinely non-rigid face motion made from one photo, by warping the
 * photo along its own FaceMesh (a blink, upper lids pulled most of the way to the lower ones and back,
 * and a slight head turn, points shifted in x in proportion to their depth). Needs the photo's face
 * to be found; throws otherwise.
 */
export async function syntheticMotionVideo(
  photo: Buffer,
  models: ModelRegistry,
  options: AnalysisOptions,
  { seconds = 3, format = 'mp4' as VideoFormat, motion = { blink: 0.8, turnDegrees: 10 } as SyntheticMotion } = {},
): Promise<Buffer> {
  const height = await evenHeight(photo, WIDTH);
  const { data: rgb } = await sharp(photo).rotate().resize(WIDTH, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const base = await sharp(rgb, { raw: { width: WIDTH, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  const [face] = (await analyze(base, models, options)).faces;
  if (!face) throw new Error('syntheticMotionVideo: no face found in the photo');
  const mesh = face.landmarks.mesh;
  const eyeWidth = (Math.hypot(mesh[33].x - mesh[133].x, mesh[33].y - mesh[133].y) + Math.hypot(mesh[263].x - mesh[362].x, mesh[263].y - mesh[362].y)) / 2;
  const warp = meshWarper(rgb, WIDTH, height, mesh, eyeWidth / 5);
  return inTempDir(async (dir) => {
    const frames = seconds * RATE;
    for (let k = 0; k < frames; k++) {
      const warped = warp(meshDisplacements(mesh, k / (frames - 1), motion));
      await sharp(warped, { raw: { width: WIDTH, height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toFile(join(dir, `frame-${String(k).padStart(3, '0')}.png`));
    }
    const out = join(dir, `video.${format}`);
    await runFfmpeg(['-framerate', String(RATE), '-i', join(dir, 'frame-%03d.png'), ...codecArgs(format), out]);
    return readFileSync(out);
  });
}
