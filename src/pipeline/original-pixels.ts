import type { FaceAssessment } from './analyze';
import type { Box, Detection, EyeLandmarks, Geometry, Landmarks, Point } from './types';

/**
 * A face measured on a shrunk image, in the original image's pixels: every coordinate and pixel
 * length times `factor` (original pixels per analysed pixel). Ratios, angles, scores and the
 * photometry (measured on the pixels the analysis saw) stay as they are.
 */
export function inOriginalPixels<Face extends FaceAssessment>(face: Face, factor: number): Face {
  if (factor === 1) return face;
  const point = <P extends Point>(p: P): P => ({ ...p, x: p.x * factor, y: p.y * factor });
  const box = (b: Box): Box => ({ x: b.x * factor, y: b.y * factor, width: b.width * factor, height: b.height * factor });
  const eye = (e: EyeLandmarks): EyeLandmarks => ({ pupil: point(e.pupil), irisRadius: e.irisRadius * factor, contour: e.contour.map(point) });
  const { detection, landmarks, geometry } = face;
  const keypoints = Object.fromEntries(Object.entries(detection.keypoints).map(([name, p]) => [name, point(p)])) as Detection['keypoints'];
  const scaledLandmarks: Landmarks = {
    ...landmarks,
    // Depth is in the same pixel scale as x and y.
    mesh: landmarks.mesh.map((p) => ({ ...point(p), z: p.z * factor })),
    rightEye: eye(landmarks.rightEye),
    leftEye: eye(landmarks.leftEye),
  };
  const { margins } = geometry;
  const scaledGeometry: Geometry = {
    ...geometry,
    ipd: geometry.ipd * factor,
    pupilRight: point(geometry.pupilRight),
    pupilLeft: point(geometry.pupilLeft),
    margins: { left: margins.left * factor, top: margins.top * factor, right: margins.right * factor, bottom: margins.bottom * factor },
    faceBox: box(geometry.faceBox),
  };
  return { ...face, detection: { ...detection, box: box(detection.box), keypoints }, landmarks: scaledLandmarks, geometry: scaledGeometry };
}
