import type { ModelName } from '../models/catalog';
import { modelVersion } from '../models/manifest';
import type { ModelRegistry } from '../models/registry';
import { alignedFace, type CropOptions, encodeJpeg } from './crop';
import { decodeImage, type DecodeLimits } from './decode';
import { type DetectOptions, detectWithReserve, detectZoomedOut, overlapOfSmaller, type SecondLookOptions } from './detect';
import { type EmbedOptions, type EmbeddingModel, embedFacesMeasured, type MeasuredEmbedding } from './embed';
import { expressions } from './expression';
import { type GeometryOptions, measureGeometry } from './geometry';
import { addEyes, locateMeshes, meshBox } from './landmarks';
import { type LivenessScores, livenessScores } from './liveness';
import { type OcclusionFinding, type OcclusionRegion, occlusionScores } from './occlusion';
import { type IsoPixelMeasures, measureIsoPixels } from './iso29794';
import { inOriginalPixels } from './original-pixels';
import { measurePhotometry } from './photometry';
import { assessQuality, type Quality, type QualityOptions } from './quality';
import type { CascadeResult, CascadeStops } from './cascade';
import { recordingRuns, type StageRecord, timed } from './stages';
import type { Box, DecodedImage, Detection, Expression, Geometry, Landmarks, Mesh, Photometry, RgbImage } from './types';

export interface AnalysisOptions {
  limits: DecodeLimits;
  detection: DetectOptions &
    SecondLookOptions & {
      /** FaceMesh score below which a detection is taken for a false one. */
      minMeshScore: number;
      /** Share of the smaller face's mesh box inside another's above which they are one face found twice. */
      duplicateOverlap: number;
      /** FaceMesh score a second-look face needs (its detector score being lower, the mesh must be surer). */
      secondLookMeshScore: number;
      /** Most boxes the second look meshes, best scores first. */
      secondLookMaxBoxes: number;
      /** Side of the whole-frame mesh crop of the second look over the frame's long side; 0: none. */
      secondLookFrame: number;
    };
  geometry: GeometryOptions;
  crop: CropOptions;
  embedding: EmbedOptions & { model: EmbeddingModel };
  quality: QualityOptions;
  expression: { regionScale: number };
  liveness: { regionScale: number };
  /** Measure each face's ISO/IEC 29794-5 pixel statistics too (`FaceAssessment.iso`): for the ISO call and scans only. */
  isoPixels?: boolean;
}

/** What the quality gates read of a face: where it is, its measurements, occlusion and quality. */
export interface FaceAssessment {
  detection: Detection;
  landmarks: Landmarks;
  geometry: Geometry;
  photometry: Photometry;
  expression: Record<Expression, number>;
  /** Probability that each facial region is covered. */
  occlusion: Record<OcclusionRegion, number>;
  quality: Quality;
  /** The pixel statistics of the ISO/IEC 29794-5 components (src/gate/iso29794.ts maps them), with `AnalysisOptions.isoPixels`. */
  iso?: IsoPixelMeasures;
  /** L2-normalised identity embedding from `embeddingModel`. */
  embedding: Float32Array;
  embeddingModel: EmbeddingModel;
  /** The embedding model's exact version (`modelVersion`), kept with templates. */
  embeddingVersion: string;
}

/** An assessment plus what storing and enrolling a face need: liveness and the aligned crop. */
export interface FaceReport extends FaceAssessment {
  liveness: LivenessScores;
  /** The aligned face crop, JPEG. */
  crop: Buffer;
}

export interface FaceAnalysis<Face extends FaceAssessment = FaceReport> {
  width: number;
  height: number;
  format: 'jpeg' | 'png';
  bytes: number;
  /** Largest face first. */
  faces: Face[];
}

/** A face FaceMesh confirmed: its detection, its mesh and the mesh's bounding box. */
export interface MeshedFace {
  detection: Detection;
  landmarks: Mesh;
  /** Bounding box of the mesh. */
  box: Box;
}

/** A confirmed face with its eyes' landmarks too. */
export interface LocatedFace extends MeshedFace {
  landmarks: Landmarks;
}

/** Keeps detections FaceMesh confirms at `minMeshScore`, once each (a face seen in two views converges to one mesh). */
function confirmedFaces(detections: Detection[], meshes: Mesh[], minMeshScore: number, duplicateOverlap: number): MeshedFace[] {
  const candidates = detections
    .map((detection, i) => ({ detection, landmarks: meshes[i], box: meshBox(meshes[i].mesh) }))
    .filter((c) => c.landmarks.meshScore >= minMeshScore)
    .sort((p, q) => q.landmarks.meshScore * q.detection.confidence - p.landmarks.meshScore * p.detection.confidence);
  const kept: typeof candidates = [];
  for (const c of candidates) if (!kept.some((k) => overlapOfSmaller(k.box, c.box) > duplicateOverlap)) kept.push(c);
  return kept.sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
}

/**
 * The second look, only for an image where the first pass confirmed no face: the boxes the first
 * pass found (those below the score threshold down to `secondLookScore` too), plus those of one
 * more view padded `secondLookZoomOut` times (a face filling a tight crop), meshed again from an
 * upright crop twice the box (the detector's eye keypoints, which set the first crop's turn, go
 * astray on masked faces), once as usual and once with black beyond the image's edges (the edge
 * pixels repeated into a crop past the frame smear a face the frame cuts). With
 * `secondLookFrame`, the whole frame is meshed too, from an upright square `secondLookFrame` times
 * its long side (a face filling a tight crop whose detector boxes are off); that mesh takes the
 * best detector box over it (from `secondLookScore` up) and without one it is dropped. A face
 * needs the surer mesh score `secondLookMeshScore`.
 */
async function secondLook(
  image: RgbImage,
  first: { faces: Detection[]; reserve: Detection[]; meshes: Mesh[] },
  models: ModelRegistry,
  options: AnalysisOptions['detection'],
): Promise<MeshedFace[]> {
  const detector = models.get('blazeface');
  const facemesh = models.get('facemesh');
  const zoomed = await detectZoomedOut(image, detector, options.secondLookZoomOut, options.secondLookScore, options);
  const best = (list: Detection[]) => [...list].sort((p, q) => q.confidence - p.confidence).slice(0, options.secondLookMaxBoxes);
  const meshedOnce = best(first.faces);
  const fresh = best([...first.reserve, ...zoomed]);
  const upright = best([...meshedOnce, ...fresh]);
  const detections = [...meshedOnce, ...fresh, ...upright, ...upright];
  const meshes = [
    ...meshedOnce.map((d) => first.meshes[first.faces.indexOf(d)]),
    ...(await locateMeshes(image, fresh, facemesh)),
    ...(await locateMeshes(image, upright, facemesh, { scale: 2, upright: true })),
    ...(await locateMeshes(image, upright, facemesh, { scale: 2, upright: true, black: true })),
  ];
  if (options.secondLookFrame > 0) {
    const side = Math.max(image.width, image.height) * options.secondLookFrame;
    const frame: Detection = {
      box: { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side },
      confidence: 0,
      keypoints: { rightEye: ORIGIN, leftEye: ORIGIN, noseTip: ORIGIN, mouth: ORIGIN, rightEar: ORIGIN, leftEar: ORIGIN },
    };
    const [mesh] = await locateMeshes(image, [frame], facemesh, { scale: 1, upright: true, black: true });
    const box = meshBox(mesh.mesh);
    const [over] = [...first.faces, ...first.reserve, ...zoomed]
      .filter((d) => overlapOfSmaller(d.box, box) > options.duplicateOverlap)
      .sort((p, q) => q.confidence - p.confidence);
    if (over) {
      detections.push(over);
      meshes.push(mesh);
    }
  }
  return confirmedFaces(detections, meshes, options.secondLookMeshScore, options.duplicateOverlap);
}

const ORIGIN = { x: 0, y: 0 };

/**
 * Detection, FaceMesh and the mesh's confirmation: every face in the image, largest first, without
 * its eyes' landmarks. Only when that finds nothing does the second look run (`secondLook`). With
 * `record`, each step's time and model runs are written to it.
 */
export async function findFaces(image: RgbImage, registry: ModelRegistry, options: AnalysisOptions['detection'], record?: StageRecord): Promise<MeshedFace[]> {
  const models = recordingRuns(registry, record);
  const { faces, reserve } = await timed(record, 'detect', () => detectWithReserve(image, models.get('blazeface'), options, options.secondLookScore));
  const meshes = await timed(record, 'mesh', () => locateMeshes(image, faces, models.get('facemesh')));
  const confirmed = confirmedFaces(faces, meshes, options.minMeshScore, options.duplicateOverlap);
  if (confirmed.length > 0 || options.secondLookMaxBoxes === 0) return confirmed;
  return timed(record, 'second look', () => secondLook(image, { faces, reserve, meshes }, models, options));
}

/** The iris model on the eyes of each face found. */
export function eyesOf(image: RgbImage, faces: MeshedFace[], registry: ModelRegistry, record?: StageRecord): Promise<LocatedFace[]> {
  const models = recordingRuns(registry, record);
  return timed(record, 'eyes', async () => {
    const landmarks = await addEyes(image, faces.map((f) => f.landmarks), models.get('iris'));
    return faces.map((f, i) => ({ ...f, landmarks: landmarks[i] }));
  });
}

/** Every face in the image (`findFaces`) with its eyes' landmarks (`eyesOf`), largest first. */
export async function locateFaces(image: RgbImage, registry: ModelRegistry, options: AnalysisOptions['detection'], record?: StageRecord): Promise<LocatedFace[]> {
  return eyesOf(image, await findFaces(image, registry, options, record), registry, record);
}

/** The occlusion stage: each located face's region occlusion and glasses scores, and fr-feature's embedding of its aligned crop. */
export function occlusionOf(image: RgbImage, faces: LocatedFace[], registry: ModelRegistry, record?: StageRecord): Promise<OcclusionFinding[]> {
  const models = recordingRuns(registry, record);
  const landmarks = faces.map((c) => c.landmarks);
  return timed(record, 'occlusion', () => occlusionScores(image, landmarks, models.get('fr-feature-maps'), models.get('occlusion')));
}

/** What the quality stage reads of the stages before it, per face. */
export interface QualityEvidence {
  /** Geometry reports the expression model's smile and the occlusion model's glasses (the quality model reads neither). */
  happy: number;
  glasses: number;
  /** fr-feature's raw embedding of the aligned crop, from the occlusion stage. */
  alignedEmbedding: Float32Array;
}

/**
 * The quality stage: each face's embedding, geometry and photometry, then one run of the quality
 * model over all of them. With fr-feature as the embedding model, the embedding of the aligned
 * crop is the occlusion stage's, and only the mirrored crop runs here.
 */
export async function qualityOf(
  image: RgbImage,
  faces: LocatedFace[],
  evidence: QualityEvidence[],
  registry: ModelRegistry,
  options: AnalysisOptions,
  record?: StageRecord,
): Promise<{ embeddings: MeasuredEmbedding[]; measured: { geometry: Geometry; photometry: Photometry }[]; quality: Quality[] }> {
  const models = recordingRuns(registry, record);
  const landmarks = faces.map((c) => c.landmarks);
  const known = options.embedding.model === 'fr-feature' ? evidence.map((e) => e.alignedEmbedding) : [];
  const embeddings = await timed(record, 'embed', () => embedFacesMeasured(image, landmarks, models.get(options.embedding.model), options.embedding, known));
  const measured = await timed(record, 'measure', () =>
    faces.map((c, i) => ({
      geometry: measureGeometry(c.landmarks, image, evidence[i], options.geometry),
      photometry: measurePhotometry(image, c.landmarks),
    })),
  );
  const quality = await timed(record, 'quality', () =>
    assessQuality(
      measured.map((m, i) => ({ ...m, norm: embeddings[i].norm })),
      models.get('quality'),
      options.quality,
    ),
  );
  return { embeddings, measured, quality };
}

/** The faces found in a decoded image with the measurements the quality gates read: every stage, for every face. */
async function assessFaces(image: RgbImage, found: MeshedFace[], registry: ModelRegistry, options: AnalysisOptions, record?: StageRecord): Promise<FaceAssessment[]> {
  const models = recordingRuns(registry, record);
  const confirmed = await eyesOf(image, found, registry, record);
  const faces = confirmed.map((c) => c.landmarks);
  const moods = await timed(record, 'expression', () => expressions(image, faces, models.get('emotion'), options.expression.regionScale));
  const occlusion = await occlusionOf(image, confirmed, registry, record);
  const evidence = confirmed.map((_, i) => ({ happy: moods[i].happy, glasses: occlusion[i].glasses, alignedEmbedding: occlusion[i].alignedEmbedding }));
  const { embeddings, measured, quality } = await qualityOf(image, confirmed, evidence, registry, options, record);
  const iso = options.isoPixels ? await timed(record, 'iso', () => faces.map((landmarks) => measureIsoPixels(image, landmarks))) : [];
  const embeddingVersion = modelVersion(models.get(options.embedding.model).entry);
  return confirmed.map((c, i) => {
    const { geometry, photometry } = measured[i];
    return {
      detection: c.detection,
      landmarks: c.landmarks,
      geometry,
      photometry,
      expression: moods[i],
      occlusion: occlusion[i].regions,
      quality: quality[i],
      iso: iso[i],
      embedding: embeddings[i].embedding,
      embeddingModel: options.embedding.model,
      embeddingVersion,
    };
  });
}

/** The analysis of `image` as its original: its encoded size, and faces in its pixels even when it was analysed shrunk. */
function described<Face extends FaceAssessment>(image: DecodedImage, faces: Face[]): FaceAnalysis<Face> {
  const { width, height } = image.original;
  return { width, height, format: image.format, bytes: image.bytes, faces: faces.map((face) => inOriginalPixels(face, 1 / image.scale)) };
}

/** What the quality gates need of one image: decode, locate faces, measure them; no liveness or crop. */
export async function assess(imageBytes: Uint8Array, registry: ModelRegistry, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis<FaceAssessment>> {
  const image = await timed(record, 'decode', () => decodeImage(imageBytes, options.limits));
  const found = await findFaces(image, registry, options.detection, record);
  return described(image, await assessFaces(image, found, registry, options, record));
}

/** Analysis options whose detector keeps candidates down to `threshold`, so a gate counting faces at that threshold sees them all. */
export function detectingFrom(options: AnalysisOptions, threshold: number): AnalysisOptions {
  return { ...options, detection: { ...options.detection, scoreThreshold: Math.min(options.detection.scoreThreshold, threshold) } };
}

/** The assessment of the faces found, plus liveness and the aligned crop of every face. */
async function reportFaces(image: RgbImage, found: MeshedFace[], registry: ModelRegistry, options: AnalysisOptions, record?: StageRecord): Promise<FaceReport[]> {
  const models = recordingRuns(registry, record);
  const assessed = await assessFaces(image, found, registry, options, record);
  const landmarks = assessed.map((face) => face.landmarks);
  const liveness = await timed(record, 'liveness', () =>
    livenessScores(image, landmarks, { antispoof: models.get('antispoof'), liveness: models.get('liveness') }, options.liveness),
  );
  const crops = await timed(record, 'crop', () =>
    Promise.all(assessed.map((face) => encodeJpeg(alignedFace(image, face.landmarks, options.crop), options.crop.jpegQuality))),
  );
  return assessed.map((face, i) => ({ ...face, liveness: liveness[i], crop: crops[i] }));
}

/** The whole analysis of one image: the assessment, plus liveness and the aligned crop of every face. */
export async function analyze(imageBytes: Uint8Array, registry: ModelRegistry, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis> {
  const image = await timed(record, 'decode', () => decodeImage(imageBytes, options.limits));
  const found = await findFaces(image, registry, options.detection, record);
  return described(image, await reportFaces(image, found, registry, options, record));
}

/** How many faces an image holds at a detection threshold, and its whole analysis only when that is exactly one. */
export interface CountedAnalysis {
  faceCount: number;
  analysis?: FaceAnalysis;
}

/**
 * The whole analysis (`analyze`) when the image holds exactly one face with at least `countAt`
 * detection confidence; otherwise only that count, found with detection and FaceMesh alone: no
 * iris, expression, occlusion, embedding, quality or liveness model runs for an image a gate
 * refuses for its number of faces.
 */
export async function analyzeCounted(imageBytes: Uint8Array, registry: ModelRegistry, options: AnalysisOptions, countAt: number, record?: StageRecord): Promise<CountedAnalysis> {
  const image = await timed(record, 'decode', () => decodeImage(imageBytes, options.limits));
  const found = await findFaces(image, registry, options.detection, record);
  const faceCount = found.filter((face) => face.detection.confidence >= countAt).length;
  if (faceCount !== 1) return { faceCount };
  return { faceCount, analysis: described(image, await reportFaces(image, found, registry, options, record)) };
}

/** Runs analyses somewhere (this thread, worker threads); with `record`, each stage's and model run's time is added to it. */
export interface Analyzer {
  analyze(bytes: Uint8Array, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis>;
  assess(bytes: Uint8Array, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis<FaceAssessment>>;
  /** The whole analysis only for an image of exactly one face at `countAt` (`analyzeCounted`). */
  analyzeCounted(bytes: Uint8Array, options: AnalysisOptions, countAt: number, record?: StageRecord): Promise<CountedAnalysis>;
  /** Detection, occlusion and quality as a cascade that stops at the first failing stage (`runCascade`). */
  cascade(bytes: Uint8Array, options: AnalysisOptions, stops: CascadeStops, record?: StageRecord): Promise<CascadeResult>;
  /** The models ready to run now. */
  readonly loaded: readonly ModelName[];
}
