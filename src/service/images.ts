import type { Config } from '../config';
import { countedPhotoVerdict, photoVerdict, type PhotoVerdict } from '../gate/photo-rules';
import type { AnalysisOptions, Analyzer, FaceAnalysis } from '../pipeline/analyze';
import type { ImageMetadata, Store } from '../store';
import { isoSeconds, newImage } from './stored-image';

/**
 * An upload's outcome: stored under a new key, or refused by the photo rules with their verdict;
 * with the analysis behind it, when one was made (not for a photo refused for its face count, unless
 * every face was asked for).
 */
export type UploadOutcome = ({ accepted: true; image: ImageMetadata } | { accepted: false; verdict: PhotoVerdict }) & { analysis?: FaceAnalysis };

export interface ImageFlows {
  /**
   * Judges the photo by the photo rules and stores an accepted one for `client` under a new key.
   * The faces are counted first, and a photo without exactly one is refused before the rest of the
   * analysis runs (`analyzeCounted`); `everyFace` asks for the whole analysis of every face even
   * then. An image the pipeline cannot read throws its ImageError.
   */
  upload(client: string, bytes: Buffer, everyFace?: boolean): Promise<UploadOutcome>;
  /** The client's stored image; another client's key is unknown (undefined), as one never stored. */
  metadata(client: string, key: string): Promise<ImageMetadata | undefined>;
  original(client: string, key: string): Promise<Buffer | undefined>;
  /** The face crop, once the image has been used for an enrollment or a validation. */
  croppedOfUsed(client: string, key: string): Promise<Buffer | undefined>;
}

export interface ImageDeps {
  config: Config;
  analyzer: Analyzer;
  store: Store;
  /** The analysis options, their detector already down to the photo rules' threshold. */
  options: AnalysisOptions;
}

/** Uploads judged by the photo rules (QI Tech's image routes), and the stored images' reads. */
export function imageFlows({ config, analyzer, store, options }: ImageDeps): ImageFlows {
  const rules = config.gate.photo;
  const judge = async (bytes: Buffer, everyFace: boolean): Promise<{ verdict: PhotoVerdict; analysis?: FaceAnalysis }> => {
    if (everyFace) {
      const analysis = await analyzer.analyze(bytes, options);
      return { verdict: photoVerdict(analysis, rules), analysis };
    }
    const counted = await analyzer.analyzeCounted(bytes, options, rules.detection);
    return { verdict: countedPhotoVerdict(counted, rules), analysis: counted.analysis };
  };
  const upload = async (client: string, bytes: Buffer, everyFace = false): Promise<UploadOutcome> => {
    const { verdict, analysis } = await judge(bytes, everyFace);
    if (!verdict.accepted || !verdict.face || !analysis) return { accepted: false, verdict, analysis };
    const image = newImage(bytes, analysis, verdict.face, isoSeconds());
    await store.images.insert(client, image);
    const { key, contentType, fileSize, width, height, createdAt } = image;
    return { accepted: true, image: { key, contentType, fileSize, width, height, createdAt, usedAt: null }, analysis };
  };
  return {
    upload,
    metadata: (client, key) => store.images.metadata(client, key),
    original: (client, key) => store.images.original(client, key),
    croppedOfUsed: (client, key) => store.images.croppedOfUsed(client, key),
  };
}
