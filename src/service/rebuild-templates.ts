import { chooseFace, type FaceChoice } from '../gate/recognition';
import type { FaceAnalysis } from '../pipeline/analyze';
import type { EmbeddingSpace, Store, TemplateRecord } from '../store';

export interface RebuildOutcome {
  rebuilt: { client: string; username: string }[];
  /** Users left as they were, and why: their templates stay in the old space until re-enrolled. */
  failed: { client: string; username: string; reason: string }[];
}

/**
 * Re-embeds every enrollment, of every client, whose templates are not all in `space`, from the stored original
 * images, with the current model: one transaction per user, so a user is either wholly moved or
 * left as before (an interruption loses nothing). `progress` is told the total first, then after each user.
 */
export async function rebuildTemplates(
  store: Store,
  analyse: (bytes: Buffer) => Promise<FaceAnalysis>,
  space: EmbeddingSpace,
  choice: FaceChoice,
  progress: (done: number, total: number) => void = () => undefined,
): Promise<RebuildOutcome> {
  const outdated = await store.users.outdated(space);
  const outcome: RebuildOutcome = { rebuilt: [], failed: [] };
  progress(0, outdated.length);
  for (const [done, user] of outdated.entries()) {
    try {
      const replacements: { imageKey: string; template: TemplateRecord }[] = [];
      for (const { imageKey } of user.templates) {
        const original = imageKey ? await store.images.original(user.client, imageKey) : undefined;
        if (!imageKey || !original) throw new Error('the enrolled image is no longer stored');
        const chosen = chooseFace(await analyse(original), choice);
        if (!chosen.ok) throw new Error(`the enrolled image now gives ${chosen.problem}`);
        const face = chosen.value;
        if (face.embeddingModel !== space.model || face.embeddingVersion !== space.modelVersion) {
          throw new Error(`the analysis embeds with ${face.embeddingModel} ${face.embeddingVersion}, not ${space.model} ${space.modelVersion}`);
        }
        replacements.push({ imageKey, template: { model: face.embeddingModel, modelVersion: face.embeddingVersion, embedding: face.embedding } });
      }
      await store.users.replaceTemplates(user.client, user.username, replacements, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
      outcome.rebuilt.push({ client: user.client, username: user.username });
    } catch (error) {
      outcome.failed.push({ client: user.client, username: user.username, reason: (error as Error).message });
    }
    progress(done + 1, outdated.length);
  }
  return outcome;
}
