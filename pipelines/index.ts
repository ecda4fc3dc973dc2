import type { AnyPipeline } from './dsl/pipeline';
import { batchScoring } from './batch-scoring';
import { buildTrainingSet } from './build-training-set';
import { hello } from './hello';
import { importModel } from './import-model';
import { ingestValidate } from './ingest-validate';
import { materializeFeatures } from './materialize-features';
import { trainModel } from './train-model';

/** Every pipeline Sluice ships. Each is also a workflow type of its own name on queue `sluice`. */
export const builtinPipelines: AnyPipeline[] = [hello, trainModel, ingestValidate, materializeFeatures, buildTrainingSet, batchScoring, importModel];
