/**
 * Synthetic occluders drawn over real faces, for training and evaluating the occlusion model:
 * dark glasses, surgical and cloth masks, scarves, skin-coloured hands, caps and textured patches,
 * placed from the clean face's mesh. Every random choice comes from the given generator.
 */
import sharp from 'sharp';
import { insidePolygon, OCCLUSION_REGIONS, type OcclusionRegion, regionOutlines } from '../src/pipeline/occlusion';
import type { Landmarks, Point, RgbImage } from '../src/pipeline/types';

export const OCCLUDER_KINDS = ['sunglasses', 'eyeglasses', 'mask', 'scarf', 'hand', 'cap', 'texture'] as const;
/** Kinds that put glasses on the face (clear eyeglasses occlude nothing, dark ones cover the eyes). */
export const GLASSES_KINDS: readonly OccluderKind[] = ['sunglasses', 'eyeglasses'];
export type OccluderKind = (typeof OCCLUDER_KINDS)[number];

type Random = () => number;

const between = (random: Random, low: number, high: number) => low + random() * (high - low);
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const rgb = (c: number[]) => `rgb(${c.map((v) => Math.round(Math.min(255, Math.max(0, v)))).join(',')})`;
const points = (list: Point[]) => list.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');

interface FaceFrame {
  mesh: Landmarks['mesh'];
  at: (index: number) => Point;
  ipd: number;
  angle: number;
  /** A point `along` eye-line units and `down` perpendicular units from `origin`, in IPDs. */
  offset: (origin: Point, along: number, down: number) => Point;
}

function frameOf(landmarks: Landmarks): FaceFrame {
  const mesh = landmarks.mesh;
  const at = (i: number): Point => ({ x: mesh[i].x, y: mesh[i].y });
  const right = { x: (mesh[33].x + mesh[133].x) / 2, y: (mesh[33].y + mesh[133].y) / 2 };
  const left = { x: (mesh[263].x + mesh[362].x) / 2, y: (mesh[263].y + mesh[362].y) / 2 };
  const ipd = Math.hypot(left.x - right.x, left.y - right.y);
  const angle = Math.atan2(left.y - right.y, left.x - right.x);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  return {
    mesh,
    at,
    ipd,
    angle,
    offset: (o, along, down) => ({ x: o.x + (along * cos - down * sin) * ipd, y: o.y + (along * sin + down * cos) * ipd }),
  };
}

function fillPattern(random: Random, id: string, ipd: number): { defs: string; fill: string } {
  const a = [between(random, 0, 255), between(random, 0, 255), between(random, 0, 255)];
  const b = [between(random, 0, 255), between(random, 0, 255), between(random, 0, 255)];
  const size = (ipd * between(random, 0.08, 0.35)).toFixed(1);
  const style = pick(random, ['solid', 'stripes', 'checks', 'dots'] as const);
  if (style === 'solid') return { defs: '', fill: rgb(a) };
  const body =
    style === 'stripes'
      ? `<rect width="${size}" height="${size}" fill="${rgb(a)}"/><rect width="${size}" height="${Number(size) / 2}" fill="${rgb(b)}"/>`
      : style === 'checks'
        ? `<rect width="${size}" height="${size}" fill="${rgb(a)}"/><rect width="${Number(size) / 2}" height="${Number(size) / 2}" fill="${rgb(b)}"/><rect x="${Number(size) / 2}" y="${Number(size) / 2}" width="${Number(size) / 2}" height="${Number(size) / 2}" fill="${rgb(b)}"/>`
        : `<rect width="${size}" height="${size}" fill="${rgb(a)}"/><circle cx="${Number(size) / 2}" cy="${Number(size) / 2}" r="${Number(size) / 4}" fill="${rgb(b)}"/>`;
  const turn = between(random, 0, 180).toFixed(0);
  return {
    defs: `<pattern id="${id}" width="${size}" height="${size}" patternUnits="userSpaceOnUse" patternTransform="rotate(${turn})">${body}</pattern>`,
    fill: `url(#${id})`,
  };
}

function regionCentre(face: Landmarks, region: OcclusionRegion): Point {
  const outline = regionOutlines(face)[region];
  return { x: outline.reduce((s, p) => s + p.x, 0) / outline.length, y: outline.reduce((s, p) => s + p.y, 0) / outline.length };
}

/** SVG markup (without the <svg> wrapper) of one occluder of `kind` on the face. */
export function occluderSvg(kind: OccluderKind, face: Landmarks, skin: number[], random: Random): string {
  const f = frameOf(face);
  const deg = (f.angle * 180) / Math.PI;
  switch (kind) {
    case 'sunglasses': {
      const rx = f.ipd * between(random, 0.36, 0.5);
      const ry = f.ipd * between(random, 0.26, 0.4);
      const tint = between(random, 0, 70);
      const colour = rgb([tint + between(random, 0, 30), tint + between(random, 0, 30), tint + between(random, 0, 30)]);
      const lens = (c: Point) => `<ellipse cx="${c.x}" cy="${c.y}" rx="${rx}" ry="${ry}" transform="rotate(${deg} ${c.x} ${c.y})" fill="${colour}"/>`;
      const right = f.offset(f.at(159), 0, 0.08);
      const left = f.offset(f.at(386), 0, 0.08);
      return `<g opacity="${between(random, 0.88, 1).toFixed(2)}">${lens(right)}${lens(left)}<line x1="${right.x}" y1="${right.y}" x2="${left.x}" y2="${left.y}" stroke="${colour}" stroke-width="${f.ipd * 0.06}"/></g>`;
    }
    case 'eyeglasses': {
      // Clear lenses: a frame outline, a bridge and temples to the ears.
      const rx = f.ipd * between(random, 0.36, 0.5);
      const ry = f.ipd * between(random, 0.24, 0.36);
      const colour = rgb([between(random, 0, 120), between(random, 0, 90), between(random, 0, 90)]);
      const width = f.ipd * between(random, 0.03, 0.08);
      const right = f.offset(f.at(159), 0, 0.08);
      const left = f.offset(f.at(386), 0, 0.08);
      const lens = (c: Point) =>
        `<ellipse cx="${c.x}" cy="${c.y}" rx="${rx}" ry="${ry}" transform="rotate(${deg} ${c.x} ${c.y})" fill="${colour}" fill-opacity="${between(random, 0, 0.15).toFixed(2)}" stroke="${colour}" stroke-width="${width}"/>`;
      const temple = (from: Point, to: Point) => `<line x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}" stroke="${colour}" stroke-width="${width}"/>`;
      return `${lens(right)}${lens(left)}${temple(f.offset(right, 0.3, -0.05), f.offset(left, -0.3, -0.05))}${temple(f.offset(right, -rx / f.ipd, 0), f.at(234))}${temple(f.offset(left, rx / f.ipd, 0), f.at(454))}`;
    }
    case 'mask':
    case 'scarf': {
      const top = kind === 'mask' ? between(random, 0.2, 0.5) : between(random, 0.85, 1.15);
      const bridge = f.offset(f.at(168), 0, top);
      const outline = [
        f.offset(f.at(234), -0.05, 0),
        f.offset(bridge, -0.45, 0.05),
        bridge,
        f.offset(bridge, 0.45, 0.05),
        f.offset(f.at(454), 0.05, 0),
        f.offset(f.at(361), 0.05, 0.1),
        f.offset(f.at(152), 0.3, between(random, 0.15, 0.5)),
        f.offset(f.at(152), -0.3, between(random, 0.15, 0.5)),
        f.offset(f.at(132), -0.05, 0.1),
      ];
      const base = kind === 'mask' ? pick(random, [[168, 206, 230], [240, 240, 240], [30, 30, 35], [120, 120, 130], [80, 120, 200]]) : [between(random, 0, 255), between(random, 0, 255), between(random, 0, 255)];
      const pattern = random() < 0.5 ? fillPattern(random, 'cloth', f.ipd) : { defs: '', fill: rgb(base) };
      return `<defs>${pattern.defs}</defs><polygon points="${points(outline)}" fill="${pattern.fill}"/>`;
    }
    case 'hand': {
      const target = pick(random, OCCLUSION_REGIONS);
      const centre = f.offset(regionCentre(face, target), between(random, -0.25, 0.25), between(random, -0.25, 0.25));
      const tone = skin.map((c) => c + between(random, -25, 20));
      const shade = tone.map((c) => c * 0.8);
      const palm = f.ipd * between(random, 0.5, 0.85);
      const direction = between(random, 0, 360);
      const fingers = [0, 1, 2, 3].map((k) => {
        const spread = direction + (k - 1.5) * between(random, 12, 20);
        const length = palm * between(random, 1.1, 1.6);
        const rad = (spread * Math.PI) / 180;
        const c = { x: centre.x + Math.cos(rad) * length * 0.9, y: centre.y + Math.sin(rad) * length * 0.9 };
        return `<ellipse cx="${c.x}" cy="${c.y}" rx="${length * 0.6}" ry="${palm * 0.24}" transform="rotate(${spread} ${c.x} ${c.y})" fill="url(#skin)"/>`;
      });
      return `<defs><radialGradient id="skin"><stop offset="0" stop-color="${rgb(tone)}"/><stop offset="1" stop-color="${rgb(shade)}"/></radialGradient></defs><circle cx="${centre.x}" cy="${centre.y}" r="${palm}" fill="url(#skin)"/>${fingers.join('')}`;
    }
    case 'cap': {
      // The brim's height: from mid-forehead down to the eyebrows, relative to the point between the brows.
      const brow = f.offset(f.at(9), 0, between(random, -0.45, 0.2));
      const outline = [f.offset(brow, -1.6, 0), f.offset(brow, 1.6, 0), f.offset(brow, 1.4, -2.5), f.offset(brow, -1.4, -2.5)];
      const pattern = random() < 0.3 ? fillPattern(random, 'cap', f.ipd) : { defs: '', fill: rgb([between(random, 0, 255), between(random, 0, 255), between(random, 0, 255)]) };
      return `<defs>${pattern.defs}</defs><polygon points="${points(outline)}" fill="${pattern.fill}"/>`;
    }
    case 'texture': {
      const target = pick(random, OCCLUSION_REGIONS);
      const centre = f.offset(regionCentre(face, target), between(random, -0.2, 0.2), between(random, -0.2, 0.2));
      const w = f.ipd * between(random, 0.5, 1.4);
      const h = f.ipd * between(random, 0.4, 1.1);
      const pattern = fillPattern(random, 'patch', f.ipd);
      const shape =
        random() < 0.5
          ? `<rect x="${centre.x - w / 2}" y="${centre.y - h / 2}" width="${w}" height="${h}" transform="rotate(${between(random, -30, 30)} ${centre.x} ${centre.y})" fill="${pattern.fill}"/>`
          : `<ellipse cx="${centre.x}" cy="${centre.y}" rx="${w / 2}" ry="${h / 2}" fill="${pattern.fill}"/>`;
      return `<defs>${pattern.defs}</defs>${shape}`;
    }
  }
}

/** The face's own skin colour: the median of its two cheek centres. */
export function skinColour(image: RgbImage, face: Landmarks): number[] {
  const samples: number[][] = [];
  for (const region of ['cheek_left', 'cheek_right'] as const) {
    const c = regionCentre(face, region);
    for (let dy = -3; dy <= 3; dy++) {
      for (let dx = -3; dx <= 3; dx++) {
        const x = Math.min(image.width - 1, Math.max(0, Math.round(c.x + dx)));
        const y = Math.min(image.height - 1, Math.max(0, Math.round(c.y + dy)));
        const i = (y * image.width + x) * 3;
        samples.push([image.data[i], image.data[i + 1], image.data[i + 2]]);
      }
    }
  }
  return [0, 1, 2].map((ch) => samples.map((s) => s[ch]).sort((a, b) => a - b)[samples.length >> 1]);
}

export interface Occluded {
  /** The photo with the occluder drawn on, JPEG-encoded. */
  jpeg: Buffer;
  /** Share of each region (outlined by the clean mesh) under the occluder. */
  coverage: Record<OcclusionRegion, number>;
}

/** Draws `markup` over the image and measures how much of each region it covers. */
export async function applyOccluder(image: RgbImage, face: Landmarks, markup: string, quality: number): Promise<Occluded> {
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${image.width}" height="${image.height}">${markup}</svg>`);
  const layer = await sharp(svg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const base = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const jpeg = await base.composite([{ input: svg }]).jpeg({ quality }).toBuffer();
  const alpha = (x: number, y: number) => {
    const xi = Math.min(image.width - 1, Math.max(0, Math.round(x)));
    const yi = Math.min(image.height - 1, Math.max(0, Math.round(y)));
    return layer.data[(yi * layer.info.width + xi) * layer.info.channels + 3];
  };
  const coverage = {} as Record<OcclusionRegion, number>;
  for (const [region, outline] of Object.entries(regionOutlines(face)) as [OcclusionRegion, Point[]][]) {
    const xs = outline.map((p) => p.x);
    const ys = outline.map((p) => p.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    let inside = 0;
    let covered = 0;
    for (let gy = 0; gy < 24; gy++) {
      for (let gx = 0; gx < 24; gx++) {
        const p = { x: x0 + ((x1 - x0) * (gx + 0.5)) / 24, y: y0 + ((y1 - y0) * (gy + 0.5)) / 24 };
        if (!insidePolygon(p, outline)) continue;
        inside++;
        if (alpha(p.x, p.y) > 127) covered++;
      }
    }
    coverage[region] = inside > 0 ? covered / inside : 0;
  }
  return { jpeg, coverage };
}
