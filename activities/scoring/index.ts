import type { StepImplementation } from '../runtime/implement';
import { finalizeScoring } from './finalize';
import { planScoring } from './plan';
import { scoreChunk } from './score-chunk';

export { finalizeScoring, runFinalize } from './finalize';
export { planScoring, runPlan } from './plan';
export { chunkKey, predictionFrame, runScoreChunk, scoreChunk, type ScoreChunkCheckpoint } from './score-chunk';
export { checkTableName, countPredictionRows, upsertPredictions } from './pg-writer';
export { samplePredictions, summarizePredictions } from './prediction-log';

export const scoringImplementations = [planScoring, scoreChunk, finalizeScoring] as StepImplementation[];
