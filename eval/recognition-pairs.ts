/**
 * The faces recognition is measured on, analysed once: the named people of both shared photo sets
 * (genuine and impostor pairs) and the unnamed bare faces of faces-extra, which only make impostor
 * pairs with the named people. Bare faces are never paired with each other: they are unnamed, and
 * they hold augmented copies of one photo and several photos of one celebrity. Used by
 * `npm run calibrate:recognition` and `npm run eval`.
 */
import { readFileSync } from 'node:fs';
import type { ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { type EmbedOptions, type EmbeddingModel, embedFaces, similarity } from '../src/pipeline/embed';
import type { Landmarks, RgbImage } from '../src/pipeline/types';
import { extraAvailable, extraManifest, extraPath, faceManifest, facePath, facesAvailable, isCopy } from './dataset';

export type Population = 'faces' | 'identities' | 'bare';

/** Bare faces that are, checked by eye, a named person of the shared set: left out, or they would count as impostors. */
export const BARE_NAMED_PEOPLE: Readonly<Record<string, string>> = {
  'masks/bare/23.jpg': 'the very photo of deepface_img7.jpg (Angelina Jolie)',
  'masks/bare/169.jpg': 'Barack Obama (facerec_obama*.jpg)',
};

export interface PairFace {
  /** Whose face: the manifest identity, or the file for an unnamed bare face. */
  person: string;
  population: Population;
  file: string;
  image: RgbImage;
  landmarks: Landmarks;
}

/** Every usable photo's largest face; `bareLimit` caps the unnamed bare faces (for quicker runs). */
export async function recognitionFaces(models: ModelRegistry, options: AnalysisOptions, bareLimit = Infinity): Promise<{ faces: PairFace[]; missed: string[] }> {
  const sources: { person: string; population: Population; file: string; path: string }[] = [];
  if (facesAvailable) {
    for (const r of faceManifest()) if (r.identity && !isCopy(r)) sources.push({ person: r.identity, population: 'faces', file: r.file, path: facePath(r.file) });
  }
  if (extraAvailable) {
    const extra = extraManifest();
    for (const r of extra) if (r.set === 'identities' && r.identity) sources.push({ person: `extra:${r.identity}`, population: 'identities', file: r.file, path: extraPath(r.file) });
    const bare = extra.filter((r) => !r.occlusion && r.set !== 'identities' && r.faces === 1 && !BARE_NAMED_PEOPLE[r.file]).slice(0, bareLimit);
    for (const r of bare) sources.push({ person: `bare:${r.file}`, population: 'bare', file: r.file, path: extraPath(r.file) });
  }
  const faces: PairFace[] = [];
  const missed: string[] = [];
  for (const source of sources) {
    const image = await decodeImage(readFileSync(source.path), options.limits);
    const [face] = await locateFaces(image, models, options.detection);
    if (face) faces.push({ person: source.person, population: source.population, file: source.file, image, landmarks: face.landmarks });
    else missed.push(source.file);
  }
  return { faces, missed };
}

export async function embedAll(faces: PairFace[], models: ModelRegistry, model: EmbeddingModel, options: EmbedOptions): Promise<Float32Array[]> {
  const runner = models.get(model);
  const out: Float32Array[] = [];
  for (const face of faces) out.push((await embedFaces(face.image, [face.landmarks], runner, options))[0]);
  return out;
}

export interface PairScores {
  genuine: number[];
  impostor: number[];
}

/** Similarities of the pairs among `indices` (all faces when omitted): same person genuine, else impostor; no two bare faces. */
export function pairScores(faces: PairFace[], embeddings: Float32Array[], indices: number[] = faces.map((_, i) => i)): PairScores {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let p = 0; p < indices.length; p++) {
    const i = indices[p];
    for (let q = p + 1; q < indices.length; q++) {
      const j = indices[q];
      if (faces[i].population === 'bare' && faces[j].population === 'bare') continue;
      (faces[i].person === faces[j].person ? genuine : impostor).push(similarity(embeddings[i], embeddings[j]));
    }
  }
  return { genuine, impostor };
}

/** The lowest threshold (on a 0.005 grid) whose false-accept rate on `impostor` is at most `far`. */
export function thresholdFor(impostor: number[], far: number): number {
  const allowed = Math.floor(far * impostor.length);
  for (let t = 0; t <= 1; t = Math.round((t + 0.005) * 1000) / 1000) {
    if (impostor.filter((s) => s >= t).length <= allowed) return t;
  }
  return 1;
}

/** People dealt into `k` folds by a stable hash of their name. */
export function personFolds(faces: PairFace[], k: number): number[][] {
  const folds: number[][] = Array.from({ length: k }, () => []);
  const hash = (text: string) => [...text].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
  faces.forEach((face, i) => folds[hash(face.person) % k].push(i));
  return folds;
}
