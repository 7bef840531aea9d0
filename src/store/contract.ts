/**
 * What every store backend offers (SQLite, the embedded default, and PostgreSQL for replicas),
 * with the data types they take and give: each method answers through a Promise. Every read and
 * change names the client, and another client's rows are treated as unknown. Sealed blobs (images,
 * templates, scan files) are bound to their place (below), on every backend.
 */
import type { BlobPlace } from './sealer';

export interface ImageMetadata {
  key: string;
  contentType: string;
  fileSize: number;
  width: number;
  height: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** When the image was first used for an enrollment or a validation; null until then. */
  usedAt: string | null;
}

export interface NewImage extends Omit<ImageMetadata, 'usedAt'> {
  original: Buffer;
  /** The aligned face crop, JPEG. */
  cropped: Buffer;
  /** The gate's findings, JSON. */
  analysis: string;
}

/** Which model, at which exact version, made an embedding: only embeddings of one space compare. */
export interface EmbeddingSpace {
  model: string;
  modelVersion: string;
}

export interface TemplateRecord extends EmbeddingSpace {
  embedding: Float32Array;
}

export interface NewEnrollment {
  username: string;
  createdAt: string;
  template: TemplateRecord;
  /** The photo enrolled: a new upload, or the key of an image already stored. */
  image: { upload: NewImage } | { key: string };
}

export interface OutdatedUser {
  client: string;
  username: string;
  templates: { id: number; imageKey: string | null }[];
}

export interface UserMetadata {
  username: string;
  createdAt: string;
  templates: { model: string; modelVersion: string; createdAt: string }[];
  imageKeys: string[];
}

/**
 * One committed change to enrolled templates, numbered in commit order: the templates of `username`
 * changed (an enrollment, a replacement, an erasure), or, with `username` null, every user of
 * `client` was erased (with `client` null too, of every client). What a process keeping templates in
 * memory reads to follow the changes other processes make.
 */
export interface TemplateChangeRecord {
  id: number;
  client: string | null;
  username: string | null;
}

/** Why `enroll` wrote nothing; raised before anything of the enrollment is written. */
export class EnrollmentConflict extends Error {
  constructor(
    readonly reason: 'DUPLICATE_USERNAME' | 'FACE_ALREADY_ENROLLED' | 'UNKNOWN_IMAGE_KEY' | 'IMAGE_KEY_TAKEN',
    readonly otherUser?: string,
  ) {
    super(reason);
  }
}

export type TaskStatus = 'pending' | 'running' | 'done' | 'failed';

export interface ScanTask {
  id: string;
  /** The client whose key uploaded the collection: only its keys see the task. */
  client: string;
  collection: string;
  status: TaskStatus;
  total: number;
  /** Files profiled or failed so far. */
  processed: number;
  /** Why the whole task failed; null unless its status is failed. */
  failure: string | null;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
  /** When the task last started running (again, after a restart). */
  startedAt: string | null;
  /** `processed` at `startedAt`, to measure the pace of the current run. */
  startedProcessed: number;
  finishedAt: string | null;
}

export type StoredProfile = Record<string, number | string | boolean | null>;

export interface UploadedFile {
  name: string;
  bytes: Buffer;
}

/** A file handed to one scanner until its lease runs out, when any scanner may take it again. */
export interface LeasedFile extends UploadedFile {
  taskId: string;
  /** The client of the file's task. */
  client: string;
  position: number;
  /** How many times the file was handed to the analysis, this time included. */
  attempts: number;
}

/** Who takes a file and for how long: an id of one scanner, and seconds from the claim. */
export interface ScanLease {
  holder: string;
  seconds: number;
}

/**
 * What settling a file did: counted it in its task (`finished` when it was the task's last), or
 * nothing (`stale`), because another scanner settled it first or its task was deleted.
 */
export type Settled = 'counted' | 'finished' | 'stale';

export interface FileError {
  file: string;
  error: string;
}

export interface ProfiledFile {
  position: number;
  name: string;
  profile: StoredProfile;
}

/** Where an image's original bytes or face crop are stored, which its seal is bound to. */
export const imagePlace = (key: string, column: 'original' | 'cropped'): BlobPlace => ({ table: 'images', row: key, column });

/** Where a template's embedding is stored, which its seal is bound to. */
export const templatePlace = (id: number): BlobPlace => ({ table: 'templates', row: id, column: 'embedding' });

/** Where a scanned file's bytes or thumbnail are stored, which its seal is bound to. */
export const scanFilePlace = (taskId: string, position: number, column: 'content' | 'thumbnail'): BlobPlace => ({
  table: 'scan_files',
  row: `${taskId}/${position}`,
  column,
});

/** Whose data a reset erases: one client's, or (only for an all-clients admin) everyone's. */
export type ResetScope = { client: string } | { allClients: true };

export interface ImageStore {
  insert(client: string, image: NewImage): Promise<void>;
  metadata(client: string, key: string): Promise<ImageMetadata | undefined>;
  markUsed(client: string, key: string, at: string): Promise<void>;
  isEnrolled(client: string, key: string): Promise<boolean>;
  original(client: string, key: string): Promise<Buffer | undefined>;
  croppedOfUsed(client: string, key: string): Promise<Buffer | undefined>;
  /** Retention: erases images never enrolled that were uploaded before `cutoff`, of every client; how many. */
  eraseUnenrolledBefore(cutoff: Date): Promise<number>;
}

export interface UserStore {
  exists(client: string, username: string): Promise<boolean>;
  templates(client: string, space: EmbeddingSpace): Promise<{ username: string; embedding: Float32Array }[]>;
  templatesOf(client: string, username: string, space: EmbeddingSpace): Promise<Float32Array[]>;
  enrolledOriginals(client: string, username: string): Promise<Buffer[]>;
  outdated(space: EmbeddingSpace): Promise<OutdatedUser[]>;
  replaceTemplates(client: string, username: string, replacements: { imageKey: string; template: TemplateRecord }[], createdAt: string): Promise<void>;
  /**
   * Stores user, template and image in one transaction, or rejects with an EnrollmentConflict and
   * writes nothing. `duplicateOf` runs while no other enrollment of the same client can commit (an
   * in-process lock on SQLite, a transaction-level advisory lock on PostgreSQL) and names an
   * enrolled user with the same face: so two simultaneous enrollments, on one replica or two,
   * of one username or of one face cannot both pass. Resolves to the number of the template change
   * it recorded.
   */
  enroll(client: string, enrollment: NewEnrollment, duplicateOf: () => Promise<string | undefined>): Promise<number>;
  metadata(client: string, username: string): Promise<UserMetadata | undefined>;
  delete(client: string, username: string): Promise<boolean>;
  /** The number of the latest template change; 0 before the first. */
  latestChange(): Promise<number>;
  /** Up to `limit` template changes after number `after`, in order. Every enrollment, replacement, erasure and reset records one in its own transaction. */
  changesAfter(after: number, limit: number): Promise<TemplateChangeRecord[]>;
  /**
   * Erases the template changes recorded before `cutoff`, but never the latest, whose number tells a
   * process behind that it missed some (they name users, so they are not kept for long); how many.
   */
  eraseChangesBefore(cutoff: Date): Promise<number>;
}

export interface ScanStore {
  beginIntake(task: { id: string; client: string; collection: string; createdAt: string }): Promise<void>;
  addFiles(taskId: string, firstPosition: number, files: UploadedFile[]): Promise<void>;
  completeIntake(taskId: string, total: number): Promise<void>;
  /**
   * Takes back what scanners no longer running left behind, when a scanner starts; returns how many
   * tasks are unfinished. On SQLite one process owns the file, so everything an earlier process
   * left is abandoned: incomplete intakes are erased, leases released and running tasks set
   * pending (to restart their pace). On PostgreSQL other replicas may be working: only intakes
   * begun more than an hour ago and still incomplete are erased, and leases are left to run out.
   */
  reclaimAbandoned(at: Date): Promise<number>;
  task(client: string, id: string): Promise<ScanTask | undefined>;
  taskOfCollection(client: string, collection: string): Promise<ScanTask | undefined>;
  /** Tasks of every client still pending or running, oldest first. */
  unfinished(): Promise<ScanTask[]>;
  /** Ends an unfinished task as failed, saying why; false when it had ended already (or is gone). */
  fail(id: string, failure: string, at: string): Promise<boolean>;
  /**
   * Leases the first pending file not leased (or whose lease ran out at `at`) of the oldest
   * unfinished task whose intake is complete, counts the attempt, and marks its task running the
   * first time; undefined when there is none. Two scanners never hold one file at once (a row lock
   * skipped by the others on PostgreSQL). Leases are compared with the claimants' clocks: replicas
   * keep them in step (NTP) to well within a lease.
   */
  claimNext(lease: ScanLease, at: string): Promise<LeasedFile | undefined>;
  /** Lets go of the holder's leases (a scanner closing), so that any scanner may take their files now. */
  releaseLeases(holder: string): Promise<void>;
  /** Settles a pending file as profiled and counts it; the task is done when this was its last file. */
  recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<Settled>;
  /** As recordProfile, for a file that could not be profiled. */
  recordFailure(taskId: string, position: number, error: string, at: string): Promise<Settled>;
  errors(taskId: string): Promise<FileError[]>;
  profileCount(taskId: string): Promise<number>;
  profiles(taskId: string, skip?: number, limit?: number): Promise<ProfiledFile[]>;
  thumbnail(taskId: string, position: number): Promise<Buffer | undefined>;
  eraseFinishedBefore(cutoff: Date): Promise<number>;
  deleteCollection(client: string, collection: string): Promise<boolean>;
}

export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  readonly images: ImageStore;
  readonly users: UserStore;
  readonly scans: ScanStore;
  schemaVersion(): Promise<number>;
  /** Erases the scope's users, templates, images and scans in one transaction, then reclaims the space (VACUUM on both backends). */
  reset(scope: ResetScope): Promise<void>;
  /** True when the database accepts a write right now. */
  isWritable(): Promise<boolean>;
  /** Aborted by `close`: work that runs in the background on the store (the template feed's poll) stops with it. */
  readonly lifetime: AbortSignal;
  close(): Promise<void>;
}
