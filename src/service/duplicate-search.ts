/**
 * The duplicate-face search of enrollment: for each client, an in-memory index of its templates in
 * the service's embedding space that names the enrolled user most similar to a new face, with the
 * very score `sameFaceAs` (src/gate/recognition.ts) gives: the dot product of the L2-normalised
 * embeddings, summed in the same order, clipped to [0, 1]. Three tiers, by the client's live
 * templates (config `recognition.duplicateIndex`, sizes measured by `npm run bench:store`):
 *
 * - below `exactBelow`, an exact scan of the full-precision templates;
 * - from `exactBelow`, a scan of every template's sign bits (src/service/sign-bits.ts: 64 bytes for
 *   512 components, compared by Hamming distance, a thirty-second of the full-precision bytes)
 *   proposes the `signBitCandidates` nearest templates, and the decision uses their exact scores
 *   from the full-precision copy;
 * - from `graphFrom`, a usearch HNSW graph proposes `candidates` templates instead. usearch ships a
 *   prebuilt binary; hnswlib-node would compile from source at install time. The graph is filled
 *   in batches off the request path (after start-up, or when a client reaches `graphFrom`), and
 *   templates not yet in it are scanned exactly, so a template is searchable from the moment it is added.
 *
 * Templates are read from the store (decrypted) once per client, at start-up or on first use, and
 * then follow every change through `apply`: enrollment, deletion, reset and template replacement.
 * Memory: 2,114 bytes per 512-d template (2,048 full precision, 64 of sign bits, 2 for its Hamming
 * distance while searching), plus its owner's name and slot list, plus the graph where there is one.
 *
 * Every process (each replica on PostgreSQL) holds its own indexes; the changes other processes
 * commit reach them through the store's template change feed (src/service/template-feed.ts), read
 * on a timer and, under the client's enrollment lock, before every search.
 */
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { DuplicateIndexConfig } from '../config';
import { SignBitCodes } from './sign-bits';

export interface Enrolled {
  username: string;
  embedding: Float32Array;
}

export interface Nearest {
  username: string;
  score: number;
}

/** A change to the enrolled templates, as this process made it or as the template change feed reports another's. */
export type TemplateChange =
  | { kind: 'enrolled'; client: string; username: string; embedding: Float32Array }
  | { kind: 'replaced'; client: string; username: string; embeddings: Float32Array[] }
  | { kind: 'deleted'; client: string; username: string }
  | { kind: 'reset'; client?: string };

/** Vectors per storage segment: growing copies at most one segment, and no single allocation approaches 2 GB. */
const SEGMENT_VECTORS = 8192;
/** A segment starts this small and doubles, so a client with a few users does not hold a whole segment. */
const FIRST_SEGMENT_VECTORS = 16;

const QUANTISATION: Record<DuplicateIndexConfig['quantisation'], ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 };

/** One client's templates of one embedding space. */
export class TemplateIndex {
  private readonly segments: Float32Array[] = [];
  /**
   * Each template once more, as its sign bits: what the prefilter reads. Made when the client reaches
   * `exactBelow`: each holds a WebAssembly memory, for which V8 reserves address space (a process ran
   * out at ~13,000 of them here), so clients searched exactly hold none.
   */
  private signBits?: SignBitCodes;
  /** The owner of each slot; undefined for a free slot. */
  private readonly owners: (string | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private readonly slotsOf = new Map<string, number[]>();
  private graph?: Index;
  /** Live slots not yet in the graph, scanned exactly until they are. */
  private readonly outsideGraph = new Set<number>();
  private live = 0;
  /** Set by the first template. */
  private dimensions = 0;

  constructor(private readonly config: DuplicateIndexConfig) {}

  get size(): number {
    return this.live;
  }

  /** Templates still waiting to enter the ANN graph. */
  get pending(): number {
    return this.outsideGraph.size;
  }

  get usesGraph(): boolean {
    return this.graph !== undefined;
  }

  add(username: string, embedding: Float32Array): void {
    if (this.dimensions === 0) this.dimensions = embedding.length;
    if (embedding.length !== this.dimensions) throw new Error(`a ${embedding.length}-d template in a ${this.dimensions}-d index`);
    const slot = this.freeSlots.pop() ?? this.owners.length;
    if (slot === this.owners.length) this.owners.push(undefined);
    const segment = Math.floor(slot / SEGMENT_VECTORS);
    const offset = (slot % SEGMENT_VECTORS) * this.dimensions;
    if (segment === this.segments.length) this.segments.push(new Float32Array(FIRST_SEGMENT_VECTORS * this.dimensions));
    if (offset === this.segments[segment].length) {
      const grown = new Float32Array(Math.min(SEGMENT_VECTORS * this.dimensions, 2 * this.segments[segment].length));
      grown.set(this.segments[segment]);
      this.segments[segment] = grown;
    }
    this.segments[segment].set(embedding, offset);
    this.owners[slot] = username;
    this.slotsOf.set(username, [...(this.slotsOf.get(username) ?? []), slot]);
    this.live++;
    if (this.signBits) this.signBits.set(slot, embedding);
    else this.startSignBitsWhenDue();
    if (this.graph) this.outsideGraph.add(slot);
    else this.startGraphWhenDue();
  }

  /** Removes every template of `username`; false when there was none. */
  remove(username: string): boolean {
    const slots = this.slotsOf.get(username);
    if (!slots) return false;
    for (const slot of slots) {
      this.owners[slot] = undefined;
      this.vector(slot).fill(0);
      if (this.graph && !this.outsideGraph.delete(slot)) this.graph.remove(BigInt(slot));
      this.freeSlots.push(slot);
      this.live--;
    }
    this.slotsOf.delete(username);
    return true;
  }

  /** The user whose template is most similar to `embedding`, with that similarity; undefined when the index is empty. */
  nearest(embedding: Float32Array): Nearest | undefined {
    let best: { slot: number; score: number } | undefined;
    const consider = (slot: number) => {
      const score = this.score(slot, embedding);
      if (!best || score > best.score) best = { slot, score };
    };
    if (this.graph) {
      if (this.graph.size() > 0) {
        const { keys } = this.graph.search(embedding, Math.min(this.config.candidates, this.graph.size()), 1);
        for (const key of keys) consider(Number(key));
      }
      for (const slot of this.outsideGraph) consider(slot);
    } else if (this.live >= this.config.exactBelow && this.signBits) {
      for (const slot of this.signBits.nearest(embedding, this.owners.length, this.config.signBitCandidates, this.freeSlots)) consider(slot);
    } else {
      best = this.scan(embedding);
    }
    return best && { username: this.owners[best.slot] as string, score: Math.min(1, Math.max(0, best.score)) };
  }

  /** The exact answer whatever the tier (what the sign-bit prefilter's and the graph's recall are measured against). */
  nearestByScan(embedding: Float32Array): Nearest | undefined {
    const best = this.scan(embedding);
    return best && { username: this.owners[best.slot] as string, score: Math.min(1, Math.max(0, best.score)) };
  }

  /** The exact search: every live slot, segment by segment. */
  private scan(embedding: Float32Array): { slot: number; score: number } | undefined {
    const dimensions = this.dimensions;
    let bestSlot = -1;
    let bestScore = -Infinity;
    for (let segment = 0; segment < this.segments.length; segment++) {
      const data = this.segments[segment];
      const first = segment * SEGMENT_VECTORS;
      const end = Math.min(SEGMENT_VECTORS, this.owners.length - first);
      for (let v = 0; v < end; v++) {
        if (this.owners[first + v] === undefined) continue;
        const start = v * dimensions;
        let dot = 0;
        for (let i = 0; i < dimensions; i++) dot += data[start + i] * embedding[i];
        if (dot > bestScore) {
          bestScore = dot;
          bestSlot = first + v;
        }
      }
    }
    return bestSlot < 0 ? undefined : { slot: bestSlot, score: bestScore };
  }

  /** Moves up to `count` pending templates into the graph; true while some remain. */
  fillGraph(count = this.config.buildBatch): boolean {
    this.startGraphWhenDue();
    if (!this.graph || this.outsideGraph.size === 0) return false;
    const slots: number[] = [];
    for (const slot of this.outsideGraph) {
      slots.push(slot);
      if (slots.length === count) break;
    }
    const vectors = new Float32Array(slots.length * this.dimensions);
    slots.forEach((slot, i) => vectors.set(this.vector(slot), i * this.dimensions));
    // One thread: added on all threads, the graph came out different at each run and sometimes could not reach a
    // template at all (test/service/duplicate-search.test.ts failed 2 runs in 8); one thread gives the same graph every time.
    this.graph.add(BigUint64Array.from(slots, BigInt), vectors, 1);
    for (const slot of slots) this.outsideGraph.delete(slot);
    return this.outsideGraph.size > 0;
  }

  private startSignBitsWhenDue(): void {
    if (this.live < this.config.exactBelow) return;
    this.signBits = new SignBitCodes(this.dimensions);
    for (let slot = 0; slot < this.owners.length; slot++) if (this.owners[slot] !== undefined) this.signBits.set(slot, this.vector(slot));
  }

  private startGraphWhenDue(): void {
    if (this.graph || this.live === 0 || this.live < this.config.graphFrom) return;
    this.graph = new Index({
      dimensions: this.dimensions,
      metric: MetricKind.Cos,
      quantization: QUANTISATION[this.config.quantisation],
      connectivity: this.config.connectivity,
      expansion_add: this.config.expansionAdd,
      expansion_search: this.config.expansionSearch,
      multi: false,
    });
    for (let slot = 0; slot < this.owners.length; slot++) if (this.owners[slot] !== undefined) this.outsideGraph.add(slot);
  }

  private vector(slot: number): Float32Array {
    const start = (slot % SEGMENT_VECTORS) * this.dimensions;
    return this.segments[Math.floor(slot / SEGMENT_VECTORS)].subarray(start, start + this.dimensions);
  }

  /** The dot product summed in the order `similarity` sums it, so both give the same number. */
  private score(slot: number, embedding: Float32Array): number {
    const data = this.segments[Math.floor(slot / SEGMENT_VECTORS)];
    const start = (slot % SEGMENT_VECTORS) * this.dimensions;
    let dot = 0;
    for (let i = 0; i < this.dimensions; i++) dot += data[start + i] * embedding[i];
    return dot;
  }
}

/**
 * Every client's index in one embedding space. `load` reads a client's templates from the store;
 * `schedule` runs graph filling later (setImmediate in the service, so requests go between batches).
 */
export class DuplicateSearch {
  /** Each client's index as read (or being read) from the store, changes applied in order. */
  private readonly indexes = new Map<string, Promise<TemplateIndex>>();
  /** The indexes read, for graph filling. */
  private readonly read = new Map<string, TemplateIndex>();
  private filling = false;

  constructor(
    private readonly config: DuplicateIndexConfig,
    private readonly load: (client: string) => Enrolled[] | Promise<Enrolled[]>,
    private readonly schedule: (work: () => void) => void = (work) => setImmediate(work).unref(),
  ) {}

  /** The client's index, read from the store the first time; a read that failed is tried again at the next use. */
  indexOf(client: string): Promise<TemplateIndex> {
    const known = this.indexes.get(client);
    if (known) return known;
    const reading = this.readIndex(client);
    this.track(client, reading);
    return reading;
  }

  private async readIndex(client: string): Promise<TemplateIndex> {
    const index = new TemplateIndex(this.config);
    for (const e of await this.load(client)) index.add(e.username, e.embedding);
    this.read.set(client, index);
    this.fillLater();
    return index;
  }

  /** Makes `index` the client's, forgotten again if it fails so that the next use reads afresh. */
  private track(client: string, index: Promise<TemplateIndex>): void {
    this.indexes.set(client, index);
    index.catch(() => {
      if (this.indexes.get(client) === index) this.indexes.delete(client);
    });
  }

  /**
   * Reads the clients' indexes on a later turn of the event loop (at start-up, so the first
   * enrollments need not). A read that fails is tried again, and fails visibly, at the client's first search.
   */
  loadSoon(clients: string[]): void {
    this.schedule(() => {
      for (const client of clients) this.indexOf(client).catch(() => undefined);
    });
  }

  /** The enrolled user of `client` most similar to `embedding`, when at least `threshold`. */
  async duplicateOf(client: string, embedding: Float32Array, threshold: number): Promise<string | undefined> {
    const nearest = (await this.indexOf(client)).nearest(embedding);
    return nearest && nearest.score >= threshold ? nearest.username : undefined;
  }

  /**
   * Follows one committed change of the store, after whatever was applied before it (also to an
   * index still being read: by username, so a read that already saw the change gives the same index).
   */
  apply(change: TemplateChange): void {
    if (change.kind === 'reset') {
      if (change.client === undefined) {
        this.indexes.clear();
        this.read.clear();
      } else {
        this.indexes.delete(change.client);
        this.read.delete(change.client);
      }
      return;
    }
    // A client not read yet will be read whole, change included, on first use.
    const current = this.indexes.get(change.client);
    if (!current) return;
    this.track(
      change.client,
      current.then((index) => {
        index.remove(change.username);
        if (change.kind === 'enrolled') index.add(change.username, change.embedding);
        if (change.kind === 'replaced') for (const embedding of change.embeddings) index.add(change.username, embedding);
        this.fillLater();
        return index;
      }),
    );
  }

  private fillLater(): void {
    if (this.filling) return;
    this.filling = true;
    const fill = () => {
      const more = [...this.read.values()].map((index) => index.fillGraph()).some(Boolean);
      if (more) this.schedule(fill);
      else this.filling = false;
    };
    this.schedule(fill);
  }
}
