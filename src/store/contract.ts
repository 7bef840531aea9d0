/**
 * What every store backend offers (SQLite, the embedded default, and PostgreSQL for replicas):
 * the same methods as the SQLite repositories, each answering through a Promise. Every read and
 * change names the client, and another client's rows are treated as unknown.
 */
import type { ImageMetadata, NewImage } from './images';
import type { ClaimedFile, FileError, ProfiledFile, ScanTask, StoredProfile, UploadedFile } from './scans';
import type { EmbeddingSpace, NewEnrollment, OutdatedUser, TemplateRecord, UserMetadata } from './users';

export type { ImageMetadata, NewImage } from './images';
export type { ClaimedFile, FileError, ProfiledFile, ScanTask, StoredProfile, TaskStatus, UploadedFile } from './scans';
export type { EmbeddingSpace, NewEnrollment, OutdatedUser, TemplateRecord, UserMetadata } from './users';

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
   * of one username or of one face cannot both pass.
   */
  enroll(client: string, enrollment: NewEnrollment, duplicateOf: () => Promise<string | undefined>): Promise<void>;
  metadata(client: string, username: string): Promise<UserMetadata | undefined>;
  delete(client: string, username: string): Promise<boolean>;
}

export interface ScanStore {
  beginIntake(task: { id: string; client: string; collection: string; createdAt: string }): Promise<void>;
  addFiles(taskId: string, firstPosition: number, files: UploadedFile[]): Promise<void>;
  completeIntake(taskId: string, total: number): Promise<void>;
  eraseIncompleteIntakes(): Promise<number>;
  task(client: string, id: string): Promise<ScanTask | undefined>;
  taskOfCollection(client: string, collection: string): Promise<ScanTask | undefined>;
  unfinished(): Promise<ScanTask[]>;
  start(id: string, at: string): Promise<void>;
  finish(id: string, at: string): Promise<void>;
  fail(id: string, failure: string, at: string): Promise<void>;
  pendingPositions(taskId: string): Promise<number[]>;
  claim(taskId: string, position: number): Promise<ClaimedFile | undefined>;
  recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<void>;
  recordFailure(taskId: string, position: number, error: string, at: string): Promise<void>;
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
  close(): Promise<void>;
}
