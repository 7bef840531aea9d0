import type { Config } from '../config';
import { enrollableFace, livenessPasses, matchScore, probeOf, videoLivenessPasses } from '../gate/recognition';
import { embeddingSpace } from '../models/manifest';
import type { AnalysisOptions, Analyzer, FaceAnalysis } from '../pipeline/analyze';
import { ImageError, sniffFormat } from '../pipeline/decode';
import { sniffVideo, VideoError, videoFrames } from '../pipeline/video';
import { KeyedLock } from '../keyed-lock';
import { EnrollmentConflict, type Store } from '../store';
import { DuplicateSearch, type TemplateChange } from './duplicate-search';
import { isoSeconds, newImage } from './stored-image';
import { TemplateFeed } from './template-feed';

/** A refusal with its reference reason (the enrollment server's DecisionReason); `score` goes into authentication answers. */
export class Rejection extends Error {
  constructor(
    readonly reason: string,
    readonly score: number | null = null,
  ) {
    super(reason);
  }
}

/** A request's photo or video: the uploaded bytes, or the key of an image the client stored earlier. */
export type Media = { bytes: Buffer } | { imageKey: string };

export interface EnrollmentFlows {
  /** Enrolls `username` as a user of `client` from the media's face; a refusal throws a Rejection. */
  enroll(client: string, username: string, media: Media): Promise<void>;
  /**
   * The match score of `username` of `client` against the media's face when it is accepted; a
   * refusal throws a Rejection. `checkDeadline` runs before each video frame's analysis and throws
   * once the request's analysis time is up.
   */
  authenticate(client: string, username: string, media: Media, checkDeadline: () => void): Promise<number>;
  /** Follows a change of the enrolled templates made elsewhere (an erasure, a reset). */
  follow(change: TemplateChange): void;
}

export interface EnrollmentDeps {
  config: Config;
  analyzer: Analyzer;
  store: Store;
  /** The analysis options, their detector already down to the enrollment gate's threshold. */
  options: AnalysisOptions;
}

/**
 * Enrollment and authentication: each sees only the named client's users, templates and images,
 * so another client's username or image key is unknown, and its faces are never a duplicate.
 */
export function enrollmentFlows({ config, analyzer, store, options }: EnrollmentDeps): EnrollmentFlows {
  const { recognition, gate } = config;
  const space = embeddingSpace(config.models.dir, options.embedding.model);
  const choice = { detection: gate.fiqa.detection, dominantFace: recognition.dominantFace };
  const duplicates = new DuplicateSearch(recognition.duplicateIndex, (client) => store.users.templates(client, space));
  // Other replicas (and templates:rebuild) change templates behind this process's back: their
  // changes are read on a timer, and before every search, under the client's enrollment lock.
  const feed = new TemplateFeed(store.users, space, duplicates);
  if (recognition.duplicateSearch) {
    const clients = [config.auth.defaultClient, ...Object.keys(config.auth.clients)];
    // The first catch-up marks where the indexes start; one that fails is made at the first search.
    feed.catchUp().then(() => duplicates.loadSoon(clients), () => undefined);
    feed.follow(recognition.templateFeed.pollMs, recognition.templateFeed.keepMinutes * 60_000, store.lifetime);
  }
  const enrollments = new KeyedLock();

  const analyseImage = async (bytes: Buffer, label: string): Promise<FaceAnalysis> => {
    try {
      return await analyzer.analyze(bytes, options);
    } catch (error) {
      if (error instanceof ImageError) throw new Rejection(error.code === 'too_large' ? 'FILE_TOO_LARGE' : label);
      throw error;
    }
  };
  const bytesOf = async (client: string, media: Media): Promise<{ bytes: Buffer; key?: string }> => {
    if ('bytes' in media) return media;
    const bytes = await store.images.original(client, media.imageKey);
    if (!bytes) throw new Rejection('UNKNOWN_IMAGE_KEY');
    return { bytes, key: media.imageKey };
  };

  const enroll = async (client: string, username: string, media: Media): Promise<void> => {
    const { bytes, key } = await bytesOf(client, media);
    if (bytes.length > config.limits.maxImageBytes) throw new Rejection('FILE_TOO_LARGE');
    if (await store.users.exists(client, username)) throw new Rejection('DUPLICATE_USERNAME');
    if (!sniffFormat(bytes)) throw new Rejection('INVALID_IMAGE');
    const analysis = await analyseImage(bytes, 'INVALID_IMAGE');
    const verdict = enrollableFace(analysis, {
      ...choice,
      occlusion: gate.fiqa.occlusion,
      iqa: gate.fiqa.iqa,
      minIpd: recognition.minIpd,
      liveness: config.liveness.stills ? config.liveness : undefined,
    });
    if (!verdict.ok) throw new Rejection(verdict.problem);
    const face = verdict.value;
    const createdAt = isoSeconds();
    const image = key ? { key } : { upload: newImage(bytes, analysis, face, createdAt) };
    const template = { model: face.embeddingModel, modelVersion: face.embeddingVersion, embedding: face.embedding };
    const threshold = recognition.duplicateThreshold;
    const duplicateOf = async () => {
      if (!recognition.duplicateSearch) return undefined;
      await feed.catchUp();
      return duplicates.duplicateOf(client, face.embedding, threshold);
    };
    try {
      // The index must take the new face before the client's next enrollment searches it.
      await enrollments.run(client, async () => {
        const change = await store.users.enroll(client, { username, createdAt, image, template }, duplicateOf);
        duplicates.apply({ kind: 'enrolled', client, username, embedding: face.embedding });
        feed.applied(change);
      });
    } catch (error) {
      if (error instanceof EnrollmentConflict) throw new Rejection(error.reason);
      throw error;
    }
  };

  /** The analysed frames of a photo or video, and which of the two it was. */
  const framesOf = async (bytes: Buffer, checkDeadline: () => void): Promise<{ frames: FaceAnalysis[]; isVideo: boolean }> => {
    if (sniffFormat(bytes)) {
      if (bytes.length > config.limits.maxImageBytes) throw new Rejection('FILE_TOO_LARGE');
      return { frames: [await analyseImage(bytes, 'INVALID_MEDIA')], isVideo: false };
    }
    if (!sniffVideo(bytes)) throw new Rejection('INVALID_MEDIA');
    let stills: Buffer[];
    try {
      stills = await videoFrames(bytes, config.video);
    } catch (error) {
      if (error instanceof VideoError) throw new Rejection(error.code === 'too_large' || error.code === 'too_long' ? 'FILE_TOO_LARGE' : 'INVALID_MEDIA');
      throw error;
    }
    const frames: FaceAnalysis[] = [];
    for (const still of stills) {
      checkDeadline();
      frames.push(await analyseImage(still, 'INVALID_MEDIA'));
    }
    return { frames, isVideo: true };
  };

  const authenticate = async (client: string, username: string, media: Media, checkDeadline: () => void): Promise<number> => {
    const { bytes, key } = await bytesOf(client, media);
    if (!(await store.users.exists(client, username))) throw new Rejection('UNKNOWN_USER');
    // An enrolled photo is evidence already on file, not a new capture, whoever presents it.
    if (key && (await store.images.isEnrolled(client, key))) throw new Rejection('REPLAYED_IMAGE');
    const templates = await store.users.templatesOf(client, username, space);
    if (templates.length === 0) throw new Rejection('REENROLLMENT_REQUIRED');
    if ((await store.users.enrolledOriginals(client, username)).some((original) => original.equals(bytes))) throw new Rejection('REPLAYED_IMAGE');
    const { frames, isVideo } = await framesOf(bytes, checkDeadline);
    const probe = probeOf(frames, choice, config.video.bestFrames);
    if (!probe.ok) throw new Rejection(probe.problem);
    if (key) await store.images.markUsed(client, key, isoSeconds());
    const score = Math.round(matchScore(probe.value.embedding, templates) * 10000) / 10000;
    if (score >= recognition.replaySimilarity) throw new Rejection('REPLAYED_IMAGE', score);
    const live = isVideo
      ? !config.liveness.videos || videoLivenessPasses(probe.value, config.liveness)
      : !config.liveness.stills || livenessPasses(probe.value.liveness, config.liveness);
    if (!live) throw new Rejection('LIVENESS_FAILED', score);
    if (score < recognition.threshold) throw new Rejection('FACE_MISMATCH', score);
    return score;
  };

  return { enroll, authenticate, follow: (change) => duplicates.apply(change) };
}
