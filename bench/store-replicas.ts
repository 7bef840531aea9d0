import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type EnrollFigures, withFreshDatabase } from './store-enroll';

/** One replica process (bench/store-replica-process.ts) on `url`, started and ready to go. */
async function startReplica(args: Record<string, string | number>): Promise<{ child: ChildProcess; figures: Promise<EnrollFigures> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'store-replica-process.ts'), ...Object.entries(args).flatMap(([name, value]) => [`--${name}`, String(value)])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const figures = new Promise<EnrollFigures>((resolve, reject) => {
    lines.on('line', (line) => (line === 'ready' ? ready() : resolve(JSON.parse(line) as EnrollFigures)));
    child.once('exit', (code) => reject(new Error(`a replica exited with ${code}`)));
  });
  await Promise.race([isReady, figures]);
  return { child, figures };
}

export interface ReplicaRow {
  replicas: number;
  clients: number;
  perS: number;
  latency: number[];
}

/**
 * Enrollment throughput of one replica process against two on one fresh PostgreSQL database each
 * time, `enrollments` in all split between the replicas, `inFlight` at a time in each, all of one
 * client (they take turns on its lock, on one replica or two) or spread over eight clients.
 */
export async function compareReplicas(enrollments: number, inFlight: number): Promise<ReplicaRow[]> {
  const rows: ReplicaRow[] = [];
  for (const replicas of [1, 2]) {
    for (const clients of [1, 8]) {
      rows.push(
        await withFreshDatabase(async (url) => {
          const key = randomBytes(32).toString('hex');
          const started = [];
          // One after the other: the first creates the schema.
          for (let replica = 0; replica < replicas; replica++) {
            started.push(await startReplica({ url, key, replica, enrollments: enrollments / replicas, 'in-flight': inFlight, clients }));
          }
          for (const { child } of started) child.stdin!.write('go\n');
          const figures = await Promise.all(started.map((s) => s.figures));
          const seconds = Math.max(...figures.map((f) => f.seconds));
          return { replicas, clients, perS: enrollments / seconds, latency: figures.flatMap((f) => f.latency) };
        }),
      );
    }
  }
  return rows;
}
