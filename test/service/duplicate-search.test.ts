import type { DuplicateIndexConfig } from '../../src/config';
import { similarity } from '../../src/pipeline/embed';
import { sameFaceAs } from '../../src/gate/recognition';
import { DuplicateSearch, type Enrolled, TemplateIndex } from '../../src/service/duplicate-search';
import { seededRandom } from '../helpers/random';

const DIMENSIONS = 64;
/** fr-feature's: the sign-bit prefilter's Hamming distance estimates a cosine only as well as its number of bits allows. */
const SERVICE_DIMENSIONS = 512;
const THRESHOLD = 0.505;
// expansionSearch above the set sizes: on sets this small the graph's answer is then exhaustive, so any difference is the index's fault.
const GRAPH: DuplicateIndexConfig = { exactBelow: 1, graphFrom: 1, signBitCandidates: 8, candidates: 8, connectivity: 8, expansionAdd: 64, expansionSearch: 512, quantisation: 'i8', buildBatch: 50 };
const EXACT: DuplicateIndexConfig = { ...GRAPH, exactBelow: 1_000_000, graphFrom: 1_000_000 };
// 64 sign bits tell a cosine only roughly: the sign-bit tests of 64-d templates take more candidates than 512-d ones need.
const SIGN_BITS: DuplicateIndexConfig = { ...GRAPH, exactBelow: 1, graphFrom: 1_000_000, signBitCandidates: 64 };

function unitVectors(seed: number, count: number, dimensions = DIMENSIONS): Float32Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: dimensions }, () => random() * 2 - 1);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

/** A unit vector at about `cosine` from the unit vector `target`. */
function near(target: Float32Array, cosine: number, noise: Float32Array): Float32Array {
  const along = noise.reduce((sum, x, i) => sum + x * target[i], 0);
  const across = noise.map((x, i) => x - along * target[i]);
  const norm = Math.hypot(...across);
  return target.map((x, i) => cosine * x + (Math.sqrt(1 - cosine * cosine) * across[i]) / norm);
}

/** A search over `enrolled` whose graph filling runs only when the test says so. */
function searchOver(config: DuplicateIndexConfig, enrolled: Map<string, Enrolled[]>) {
  const scheduled: (() => void)[] = [];
  const search = new DuplicateSearch(config, (client) => enrolled.get(client) ?? [], (work) => scheduled.push(work));
  const fillAll = () => {
    while (scheduled.length > 0) (scheduled.shift() as () => void)();
  };
  return { search, fillAll };
}

describe('duplicate search index', () => {
  const vectors = unitVectors(1, 300);
  const enrolled: Enrolled[] = vectors.map((embedding, i) => ({ username: `user${i}`, embedding }));
  const noise = unitVectors(2, 120);
  // Near-duplicates from well below to well above the threshold, and faces of nobody enrolled.
  const probes = [...noise.slice(0, 100).map((n, i) => near(vectors[(i * 37) % vectors.length], 0.3 + (i / 100) * 0.65, n)), ...unitVectors(3, 20)];

  it.each([
    ['an exact scan', EXACT],
    ['the sign-bit scan', SIGN_BITS],
    ['the ANN graph', GRAPH],
  ])('answers as sameFaceAs does, below and above the threshold, through %s', async (_, config) => {
    const { search, fillAll } = searchOver(config, new Map([['bank', enrolled]]));
    await search.indexOf('bank');
    fillAll();
    expect((await search.indexOf('bank')).usesGraph).toBe(config === GRAPH);
    // More templates than candidates: the sign-bit scan and the graph must choose which to re-score.
    expect(enrolled.length).toBeGreaterThan(Math.max(config.candidates, config.signBitCandidates));
    expect((await search.indexOf('bank')).pending).toBe(0);
    const answers = await Promise.all(probes.map((p) => search.duplicateOf('bank', p, THRESHOLD)));
    expect(answers).toEqual(probes.map((p) => sameFaceAs(p, enrolled, THRESHOLD)));
    // Both outcomes occur, so the comparison means something.
    expect(answers.filter((a) => a !== undefined).length).toBeGreaterThan(20);
    expect(answers.filter((a) => a === undefined).length).toBeGreaterThan(20);
  });

  it('keeps every template across its storage segments (8192 templates each) and reused slots', async () => {
    const many: Enrolled[] = unitVectors(5, 8300).map((embedding, i) => ({ username: `many${i}`, embedding }));
    const index = new TemplateIndex(SIGN_BITS);
    many.forEach((e) => index.add(e.username, e.embedding));
    index.remove('many8200');
    index.add('late', many[8200].embedding);
    const kept = [...many.slice(0, 8200), { username: 'late', embedding: many[8200].embedding }, ...many.slice(8201)];
    const targets = [0, 15, 16, 4000, 8191, 8192, 8200, 8299];
    const answers = targets.map((i) => index.nearest(near(many[i].embedding, 0.7, noise[i % noise.length]))?.username);
    expect(answers).toEqual(targets.map((i) => sameFaceAs(near(many[i].embedding, 0.7, noise[i % noise.length]), kept, 0)));
    expect(answers).toEqual(targets.map((i) => (i === 8200 ? 'late' : `many${i}`)));
  });

  it('gives the exact score, so a duplicate at the very threshold is found and one a hair below is not', async () => {
    for (const config of [EXACT, SIGN_BITS, GRAPH]) {
      const index = new TemplateIndex(config);
      enrolled.forEach((e) => index.add(e.username, e.embedding));
      index.fillGraph(enrolled.length);
      const probe = near(vectors[7], THRESHOLD, noise[110]);
      const score = similarity(probe, vectors[7]);
      expect(index.nearest(probe)).toEqual({ username: 'user7', score });
      const { search } = searchOver(config, new Map([['bank', enrolled]]));
      expect(await search.duplicateOf('bank', probe, score)).toBe('user7');
      expect(await search.duplicateOf('bank', probe, score + 1e-9)).toBeUndefined();
    }
  });

  it.each([
    ['the sign-bit scan', SIGN_BITS],
    ['the ANN graph', GRAPH],
  ])('re-scores the candidates of %s exactly: of two faces closer to each other than its prefilter can tell, the nearer is named', async (_, config) => {
    const probesOfTies = unitVectors(4, 20);
    const ties = probesOfTies.flatMap((p, i): Enrolled[] => [
      { username: `tie${i}-far`, embedding: near(p, 0.6, noise[i]) },
      { username: `tie${i}-near`, embedding: near(p, 0.6001, noise[i + 20]) },
    ]);
    const all = [...enrolled, ...ties];
    const { search, fillAll } = searchOver(config, new Map([['bank', all]]));
    await search.indexOf('bank');
    fillAll();
    const answers = await Promise.all(probesOfTies.map((p) => search.duplicateOf('bank', p, THRESHOLD)));
    expect(answers).toEqual(probesOfTies.map((p) => sameFaceAs(p, all, THRESHOLD)));
    expect(answers).toEqual(probesOfTies.map((_, i) => `tie${i}-near`));
  });

  it('leaves the slots of deleted templates out of the sign-bit candidates, so a removed user never comes back nor crowds the others out', async () => {
    const config = { ...SIGN_BITS, signBitCandidates: 8 };
    const index = new TemplateIndex(config);
    enrolled.forEach((e) => index.add(e.username, e.embedding));
    const probe = near(vectors[0], 0.9, noise[5]);
    const twins = noise.slice(30, 30 + 2 * config.signBitCandidates).map((n, i) => ({ username: `twin${i}`, embedding: near(probe, 0.99, n) }));
    twins.forEach((t) => index.add(t.username, t.embedding));
    expect(index.nearest(probe)?.username).toMatch(/^twin/);
    twins.forEach((t) => index.remove(t.username));
    expect(index.nearest(probe)).toEqual({ username: 'user0', score: similarity(probe, vectors[0]) });
    // A freed slot taken again answers for its new owner only.
    index.add('heir', near(probe, 0.95, noise[6]));
    expect(index.nearest(probe)?.username).toBe('heir');
    index.remove('heir');
    expect(index.nearest(probe)?.username).toBe('user0');
  });

  it('names the user the exact scan names through the sign-bit scan, on thousands of seeded templates and near-duplicates at the threshold', () => {
    const population = unitVectors(6, 5000, SERVICE_DIMENSIONS);
    const config = { ...SIGN_BITS, signBitCandidates: 64 };
    const index = new TemplateIndex(config);
    population.forEach((embedding, i) => index.add(`person${i}`, embedding));
    const random = seededRandom(7);
    const queries = unitVectors(8, 200, SERVICE_DIMENSIONS).map((n) => near(population[Math.floor(random() * population.length)], THRESHOLD + random() * 0.4, n));
    expect(population.length).toBeGreaterThan(10 * config.signBitCandidates);
    expect(queries.map((q) => index.nearest(q))).toEqual(queries.map((q) => index.nearestByScan(q)));
  });

  it('switches from the exact scan to the sign-bit scan at exactBelow, and back below it', () => {
    // With one candidate the two tiers answer differently: `signTwin` has the probe's very sign bits
    // (Hamming distance 0) at a cosine near 0.8, `closest` is nearer (0.95) with some bits flipped.
    const probe = near(vectors[0], 0.9, noise[5]);
    const signTwin = probe.map((x) => Math.sign(x) / Math.sqrt(DIMENSIONS));
    const closest = near(probe, 0.95, noise[6]);
    expect(similarity(probe, signTwin)).toBeLessThan(0.9);
    const index = new TemplateIndex({ ...SIGN_BITS, exactBelow: 3, signBitCandidates: 1 });
    index.add('closest', closest);
    index.add('signTwin', signTwin);
    expect(index.nearest(probe)?.username).toBe('closest');
    index.add('stranger', vectors[1]);
    expect(index.nearest(probe)).toEqual({ username: 'signTwin', score: similarity(probe, signTwin) });
    expect(index.nearestByScan(probe)?.username).toBe('closest');
    index.remove('stranger');
    expect(index.nearest(probe)?.username).toBe('closest');
  });

  it('searches templates not yet in the graph exactly, and crosses to the graph at graphFrom', async () => {
    const index = new TemplateIndex({ ...GRAPH, graphFrom: 100 });
    enrolled.slice(0, 99).forEach((e) => index.add(e.username, e.embedding));
    expect(index.usesGraph).toBe(false);
    index.add(enrolled[99].username, enrolled[99].embedding);
    expect([index.usesGraph, index.pending]).toEqual([true, 100]);
    const probe = near(vectors[42], 0.6, noise[0]);
    expect(index.nearest(probe)?.username).toBe('user42');
    expect(index.fillGraph(60)).toBe(true);
    expect(index.pending).toBe(40);
    expect(index.nearest(probe)?.username).toBe('user42');
    expect(index.fillGraph(60)).toBe(false);
    expect(index.nearest(probe)?.username).toBe('user42');
  });

  it.each([
    ['an exact scan', EXACT],
    ['the sign-bit scan', SIGN_BITS],
    ['the ANN graph', GRAPH],
  ])('follows enrollments, deletions, template replacements and resets, client by client, through %s', async (_, config) => {
    const stored = new Map([
      ['bank', enrolled.slice(0, 200)],
      ['shop', enrolled.slice(200)],
    ]);
    const { search, fillAll } = searchOver(config, stored);
    await search.indexOf('bank');
    await search.indexOf('shop');
    fillAll();
    const probeOf = (i: number) => near(vectors[i], 0.7, noise[i % noise.length]);

    // Another client's faces are never a duplicate.
    expect(await search.duplicateOf('bank', probeOf(250), THRESHOLD)).toBeUndefined();
    expect(await search.duplicateOf('shop', probeOf(250), THRESHOLD)).toBe('user250');

    search.apply({ kind: 'deleted', client: 'bank', username: 'user5' });
    expect(await search.duplicateOf('bank', probeOf(5), THRESHOLD)).toBeUndefined();
    search.apply({ kind: 'enrolled', client: 'bank', username: 'newcomer', embedding: vectors[250] });
    fillAll();
    expect(await search.duplicateOf('bank', probeOf(250), THRESHOLD)).toBe('newcomer');
    // The freed slot is reused by the next template and must carry its new owner.
    search.apply({ kind: 'enrolled', client: 'bank', username: 'reused', embedding: vectors[260] });
    expect(await search.duplicateOf('bank', probeOf(260), THRESHOLD)).toBe('reused');

    search.apply({ kind: 'replaced', client: 'bank', username: 'user9', embeddings: [vectors[270], vectors[280]] });
    fillAll();
    expect(await search.duplicateOf('bank', probeOf(9), THRESHOLD)).toBeUndefined();
    expect(await search.duplicateOf('bank', probeOf(270), THRESHOLD)).toBe('user9');
    expect(await search.duplicateOf('bank', probeOf(280), THRESHOLD)).toBe('user9');
    expect((await search.indexOf('bank')).size).toBe(200 - 1 + 2 + 1);

    search.apply({ kind: 'reset', client: 'bank' });
    stored.set('bank', []);
    expect(await search.duplicateOf('bank', probeOf(270), THRESHOLD)).toBeUndefined();
    expect(await search.duplicateOf('shop', probeOf(250), THRESHOLD)).toBe('user250');
    search.apply({ kind: 'reset' });
    stored.set('shop', []);
    expect(await search.duplicateOf('shop', probeOf(250), THRESHOLD)).toBeUndefined();
  });

  it('reads a client from the store once, and a client not read yet whole, changes included, on first use', async () => {
    const stored = new Map([['bank', enrolled.slice(0, 10)]]);
    let reads = 0;
    const search = new DuplicateSearch(EXACT, (client) => {
      reads++;
      return stored.get(client) ?? [];
    });
    search.apply({ kind: 'enrolled', client: 'bank', username: 'user10', embedding: vectors[10] });
    expect(reads).toBe(0);
    stored.set('bank', enrolled.slice(0, 11));
    expect(await search.duplicateOf('bank', near(vectors[10], 0.8, noise[3]), THRESHOLD)).toBe('user10');
    expect(await search.duplicateOf('bank', near(vectors[3], 0.8, noise[4]), THRESHOLD)).toBe('user3');
    expect([reads, (await search.indexOf('bank')).size]).toEqual([1, 11]);
  });

  it('reads the configured clients after start-up, and a client whose read failed again at its first search', async () => {
    let broken = true;
    let reads = 0;
    const scheduled: (() => void)[] = [];
    const search = new DuplicateSearch(
      EXACT,
      (client) => {
        reads++;
        if (broken && client === 'shop') throw new Error('database closed');
        return client === 'bank' ? enrolled.slice(0, 10) : enrolled.slice(10, 20);
      },
      (work) => scheduled.push(work),
    );
    search.loadSoon(['bank', 'shop']);
    expect(reads).toBe(0);
    scheduled.forEach((work) => work());
    expect(reads).toBe(2);
    expect(await search.duplicateOf('bank', near(vectors[3], 0.8, noise[4]), THRESHOLD)).toBe('user3');
    await expect(search.duplicateOf('shop', near(vectors[13], 0.8, noise[4]), THRESHOLD)).rejects.toThrow('database closed');
    broken = false;
    expect(await search.duplicateOf('shop', near(vectors[13], 0.8, noise[4]), THRESHOLD)).toBe('user13');
    expect(reads).toBe(4);
  });
});
