import type { ArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import { getModelVersion, toModelRef } from '../infra/db/registry';
import type { PredictionOutput } from '../infra/db/serving';
import type { ModelRef } from '../pipelines/steps/model';
import type { Feature, FeatureRow } from './feature-row';
import { MicroBatcher, type BatcherOptions } from './batcher';
import type { BatchColumns } from './inference-protocol';
import type { BatchOutput, ServingInference } from './inference';
import { OnlineFeatures } from './online-features';

/**
 * Model versions as the server holds them: fetched through the registry and the artifact store
 * (hash verified), loaded into every inference thread, each with its own micro-batcher. A version
 * is loaded once however many variants or aliases point at it, and before any request is routed
 * to it (router.ts swaps only to loaded versions).
 */

export type { Feature, FeatureRow, FeatureValue } from './feature-row';

export interface ServedVersion {
  readonly model: string;
  readonly version: number;
  readonly ref: ModelRef;
  readonly features: readonly Feature[];
  /** Where rows given by entity key get their features (the feature views of the version's lineage); none: values inline only. */
  readonly online?: OnlineFeatures | undefined;
  /** Scores rows (already checked against `features`), micro-batched with other requests'. */
  predict(rows: FeatureRow[]): Promise<PredictionOutput[]>;
}

/** The features a signature reads, each once, in input order (a 2-D input's columns are numbers). */
export function featuresOf(ref: ModelRef): Feature[] {
  const out = new Map<string, Feature>();
  for (const i of ref.signature.inputs) {
    if ('columns' in i) for (const c of i.columns) out.set(c, out.get(c) ?? { name: c, type: i.type });
    else out.set(i.column, out.get(i.column) ?? { name: i.column, type: i.type });
  }
  return [...out.values()];
}

export class ModelNotServable extends Error {
  override name = 'ModelNotServable';
}

export class ModelVersions {
  private readonly versions = new Map<string, Promise<ServedVersion>>();

  constructor(
    private readonly deps: {
      db: Db;
      store: ArtifactStore;
      inference: ServingInference;
      batching: Omit<BatcherOptions, 'maxInFlight'>;
      /** Called with the keys of each online feature look-up (metrics). */
      onLookup?: (keys: number) => void;
      maxModelBytes?: number;
    },
  ) {}

  /** The version loaded (once; concurrent callers share the load). */
  get(model: string, version: number): Promise<ServedVersion> {
    const key = versionKey(model, version);
    let v = this.versions.get(key);
    if (!v) {
      v = this.load(model, version);
      this.versions.set(key, v);
      v.catch(() => this.versions.delete(key)); // a failed load is tried again next time
    }
    return v;
  }

  loadedKeys(): string[] {
    return [...this.versions.keys()];
  }

  /** Frees a version (its sessions in every thread). Callers make sure no route points at it. */
  release(key: string): void {
    if (!this.versions.delete(key)) return;
    this.deps.inference.unload(key);
  }

  private async load(model: string, version: number): Promise<ServedVersion> {
    const row = await getModelVersion(this.deps.db, model, version);
    if (!row) throw new ModelNotServable(`model "${model}" has no version ${version}`);
    if (row.status !== 'READY') throw new ModelNotServable(`version ${version} of "${model}" is ${row.status}, not READY`);
    const ref = toModelRef(row);
    const features = featuresOf(ref);
    // Before the sessions load: a version whose feature views cannot be read is not served at all.
    const online = await OnlineFeatures.forVersion(this.deps.db, model, row.lineage, features, {
      maxRows: this.deps.batching.maxRows,
      maxWaitMs: this.deps.batching.maxWaitMs,
      ...(this.deps.onLookup ? { onBatch: this.deps.onLookup } : {}),
    });
    const bytes = await this.deps.store.getBuffer(ref.uri, { expectSha256: ref.sha256, maxBytes: this.deps.maxModelBytes ?? 2 * 1024 ** 3 });
    const key = versionKey(model, version);
    await this.deps.inference.load(key, ref, bytes);
    const inference = this.deps.inference;
    const batcher = new MicroBatcher<FeatureRow, PredictionOutput>(
      async (rows) => outputsOf(ref, await inference.run(key, rows.length, columnsOf(features, rows)), rows.length),
      { ...this.deps.batching, maxInFlight: inference.size },
    );
    return { model, version, ref, features, online, predict: (rows) => batcher.submit(rows) };
  }
}

export const versionKey = (model: string, version: number) => `${model}/${version}`;

function columnsOf(features: readonly Feature[], rows: FeatureRow[]): BatchColumns {
  const cols: BatchColumns = {};
  for (const f of features) cols[f.name] = rows.map((r) => r[f.name] ?? null);
  return cols;
}

/**
 * A batch's outputs as each row's answer: the label (typed as the model's classes: booleans for
 * a boolean target, numbers for numeric classes), the probabilities by class, and one score.
 */
export function outputsOf(ref: ModelRef, out: BatchOutput, n: number): PredictionOutput[] {
  const sig = ref.signature;
  const res: PredictionOutput[] = new Array(n);
  if (sig.task === 'regression') {
    for (let i = 0; i < n; i++) res[i] = { prediction: out.values![i]!, score: out.values![i]! };
    return res;
  }
  const classes = sig.classes ?? [];
  const C = classes.length;
  const trueAt = classes.findIndex((c) => c === 1 || String(c).toLowerCase() === 'true');
  const label = (k: number): string | number | boolean => (sig.labelType === 'bool' ? k === trueAt : classes[k]!);
  for (let i = 0; i < n; i++) {
    const k = out.labelIndex![i]!;
    const o: PredictionOutput = { prediction: label(k) };
    if (out.probabilities) {
      const p: Record<string, number> = {};
      for (let c = 0; c < C; c++) p[String(classes[c])] = out.probabilities[i * C + c]!;
      o.probabilities = p;
      o.score = sig.task === 'binary' ? out.probabilities[i * C + 1]! : out.probabilities[i * C + k]!;
    }
    res[i] = o;
  }
  return res;
}
