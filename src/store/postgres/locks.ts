import { createHash } from 'node:crypto';

/**
 * Advisory locks take two 32-bit keys: the first names what FaceGate locks (arbitrary constants,
 * unlikely to be used by anything else sharing the database), the second which one.
 */
const MIGRATION_LOCKS = 0x46476d31; // 'FGm1'
const ENROLLMENT_LOCKS = 0x46476531; // 'FGe1'
const FEED_LOCKS = 0x46476631; // 'FGf1'

/** The schema's lock: one migration at a time. */
export const MIGRATION_LOCK: [number, number] = [MIGRATION_LOCKS, 0];

/**
 * Held from recording a template change to the commit, so that changes commit in the order of their
 * numbers and a reader that has seen number n has seen every change before it.
 */
export const TEMPLATE_CHANGES_LOCK: [number, number] = [FEED_LOCKS, 0];

/**
 * A client's enrollment lock. The second key is a hash of the client id, the same on every replica;
 * two clients sharing a hash only wait for each other, which costs time, never correctness.
 */
export function enrollmentLock(client: string): [number, number] {
  return [ENROLLMENT_LOCKS, createHash('sha256').update(client).digest().readInt32BE(0)];
}
