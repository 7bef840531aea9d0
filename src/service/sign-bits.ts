/**
 * The sign-bit prefilter of the duplicate search (src/service/duplicate-search.ts): each template kept
 * once more as one bit per component (set where the component is positive), 64 bytes for a 512-d
 * embedding. The Hamming distance between two such codes estimates the angle between the embeddings
 * (a share θ/π of the bits differ), so the codes nearest a query's code contain its nearest template,
 * for a few hundred times fewer templates than the whole client to score exactly.
 *
 * The Hamming distances are counted by a small WebAssembly function with 64-bit popcount: usearch's
 * `exactSearch` takes no binary vectors (its Hamming metric on an Int8Array returns NaN distances in
 * 2.26), and a JavaScript popcount loop took ~29 ms over 1M codes against ~5 ms here. The codes
 * live in the function's linear memory, which holds at most 4 GiB: about 60M templates of 512-d.
 */

/** The part of Node's WebAssembly global used here: @types/node 20 does not describe it (TypeScript's DOM library would, with all of the DOM). */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number });
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, Memory>>);
    readonly exports: Record<string, unknown>;
  }
}

/** WebAssembly opcodes used below (https://webassembly.github.io/spec/core/binary/instructions.html). */
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i64Load: 0x29,
  i64Store16: 0x3d,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
  i64Popcnt: 0x7b,
  i64Add: 0x7c,
  i64Xor: 0x85,
  void: 0x40,
  i32: 0x7f,
  i64: 0x7e,
};

/** An unsigned LEB128 number, as the binary format writes sizes, counts and (small non-negative) constants. */
function leb(value: number): number[] {
  const bytes: number[] = [];
  do {
    const low = value & 0x7f;
    value >>>= 7;
    bytes.push(value === 0 ? low : low | 0x80);
  } while (value !== 0);
  return bytes;
}

const text = (name: string) => [...leb(name.length), ...Buffer.from(name, 'ascii')];
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];

/**
 * `hammingDistances(codes, count, words, query, out)`: for each of `count` codes of `words` 64-bit
 * words starting at byte `codes`, the number of bits in which it differs from the code at `query`,
 * written as a 16-bit integer from byte `out` on. `count` and `words` are at least 1.
 */
function hammingModule(): Uint8Array {
  const [codes, count, words, query, out, end, word, distance] = [0, 1, 2, 3, 4, 5, 6, 7];
  const body = [
    ...[2, 2, op.i32, 1, op.i64], // locals: end and word (i32), distance (i64)
    // end = out + 2 * count
    ...[op.localGet, out, op.localGet, count, op.i32Const, 1, op.i32Shl, op.i32Add, op.localSet, end],
    ...[op.block, op.void, op.localGet, out, op.localGet, end, op.i32GeU, op.brIf, 0],
    ...[op.loop, op.void],
    ...[op.i64Const, 0, op.localSet, distance, op.i32Const, 0, op.localSet, word],
    ...[op.loop, op.void],
    // distance += popcnt(load(codes) ^ load(query + word)); codes += 8
    ...[op.localGet, distance, op.localGet, codes, op.i64Load, 3, 0],
    ...[op.localGet, query, op.localGet, word, op.i32Add, op.i64Load, 3, 0],
    ...[op.i64Xor, op.i64Popcnt, op.i64Add, op.localSet, distance],
    ...[op.localGet, codes, op.i32Const, 8, op.i32Add, op.localSet, codes],
    // while ((word += 8) < 8 * words)
    ...[op.localGet, word, op.i32Const, 8, op.i32Add, op.localTee, word],
    ...[op.localGet, words, op.i32Const, 3, op.i32Shl, op.i32LtU, op.brIf, 0, op.end],
    // store16(out, distance); while ((out += 2) < end)
    ...[op.localGet, out, op.localGet, distance, op.i64Store16, 1, 0],
    ...[op.localGet, out, op.i32Const, 2, op.i32Add, op.localTee, out, op.localGet, end, op.i32LtU, op.brIf, 0],
    ...[op.end, op.end, op.end],
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, 0x60, 5, op.i32, op.i32, op.i32, op.i32, op.i32, 0]), // one type: (i32 × 5) → ()
    ...section(2, [1, ...text('env'), ...text('memory'), 0x02, 0x00, 1]), // imports a memory of at least one page
    ...section(3, [1, 0]), // one function, of type 0
    ...section(7, [1, ...text('hammingDistances'), 0x00, 0]), // exported
    ...section(10, [1, ...leb(body.length), ...body]),
  ]);
}

const HAMMING_MODULE = new WebAssembly.Module(hammingModule());
const PAGE_BYTES = 65_536;

type HammingDistances = (codes: number, count: number, words: number, query: number, out: number) => void;

/**
 * One bit per component of each slot's template, and the slots whose codes are nearest a query's.
 * Memory layout: the query's code, then `capacity` codes, then a 16-bit distance per code.
 */
export class SignBitCodes {
  /** 64-bit words per code. */
  private readonly words: number;
  private readonly codeBytes: number;
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private readonly hammingDistances: HammingDistances;
  private capacity = 0;
  private bytes = new Uint8Array(this.memory.buffer);

  constructor(private readonly dimensions: number) {
    this.words = Math.ceil(dimensions / 64);
    this.codeBytes = this.words * 8;
    const instance = new WebAssembly.Instance(HAMMING_MODULE, { env: { memory: this.memory } });
    this.hammingDistances = instance.exports.hammingDistances as HammingDistances;
  }

  /** Bytes per template: its code and its distance. */
  get bytesPerTemplate(): number {
    return this.codeBytes + 2;
  }

  /** Writes the code of `embedding` at `slot`, making room for it. */
  set(slot: number, embedding: Float32Array): void {
    if (slot >= this.capacity) this.grow(Math.max(slot + 1, 2 * this.capacity, 16));
    this.encode(embedding, this.codeStart(slot));
  }

  /**
   * Up to `wanted` slots among the first `slots`, nearest `embedding` by Hamming distance, free slots
   * left out; nearer first is not promised, since each is re-scored exactly.
   */
  nearest(embedding: Float32Array, slots: number, wanted: number, freeSlots: readonly number[]): number[] {
    if (slots === 0) return [];
    this.encode(embedding, 0);
    const distancesStart = this.codeStart(this.capacity);
    this.hammingDistances(this.codeStart(0), slots, this.words, 0, distancesStart);
    const distances = new Uint16Array(this.memory.buffer, distancesStart, slots);
    const bits = this.words * 64;
    for (const slot of freeSlots) if (slot < slots) distances[slot] = bits + 1;
    // The distances are small integers: a histogram gives the distance at which the wanted are reached.
    const histogram = new Uint32Array(bits + 2);
    for (let slot = 0; slot < slots; slot++) histogram[distances[slot]]++;
    let cutoff = 0;
    let nearer = 0;
    while (cutoff <= bits && nearer + histogram[cutoff] < wanted) nearer += histogram[cutoff++];
    // Every slot nearer than the cutoff, then slots at the cutoff until `wanted` (all live slots when they are fewer).
    const found: number[] = [];
    let atCutoff = wanted - nearer;
    for (let slot = 0; slot < slots; slot++) {
      const distance = distances[slot];
      if (distance < cutoff || (distance === cutoff && cutoff <= bits && atCutoff-- > 0)) found.push(slot);
    }
    return found;
  }

  private codeStart(slot: number): number {
    return this.codeBytes * (1 + slot);
  }

  private encode(embedding: Float32Array, start: number): void {
    this.bytes.fill(0, start, start + this.codeBytes);
    for (let i = 0; i < this.dimensions; i++) if (embedding[i] > 0) this.bytes[start + (i >> 3)] |= 1 << (i & 7);
  }

  private grow(capacity: number): void {
    const needed = this.codeStart(capacity) + 2 * capacity;
    const pages = Math.ceil(needed / PAGE_BYTES) - this.memory.buffer.byteLength / PAGE_BYTES;
    if (pages > 0) this.memory.grow(pages);
    this.bytes = new Uint8Array(this.memory.buffer);
    this.capacity = capacity;
  }
}
