import type { ModelInput } from '../pipelines/steps/model';

/**
 * What a request row is once checked: the features a model version reads, by name. Kept apart from
 * models.ts so the modules that check and complete rows (input.ts, online-features.ts) need not
 * import the model loader that uses them.
 */

/** One feature a model reads, with the JSON type a request must give it. */
export interface Feature {
  name: string;
  type: ModelInput['type'];
}

export type FeatureValue = number | string | null;
export type FeatureRow = Record<string, FeatureValue>;
