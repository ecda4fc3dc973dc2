import type { StepImplementation } from '../runtime/implement';
import { finalizeScoring } from './finalize';
import { planScoring } from './plan';
import { scoreChunk } from './score-chunk';

export { finalizeScoring, runFinalize } from './finalize';
export { planScoring, runPlan } from './plan';
export { chunkKey, runScoreChunk, scoreChunk } from './score-chunk';
export { compactFrame, predictionColumns, shapeOf } from './prediction-frame';
export { inferenceThreads, InferencePool } from './inference-pool';
export { checkTableName, countPredictionRows, upsertPredictions } from './pg-writer';
export { samplePredictions, summarizePredictions } from './prediction-log';

export const scoringImplementations = [planScoring, scoreChunk, finalizeScoring] as StepImplementation[];
