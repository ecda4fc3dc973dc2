import type { StepImplementation } from '../runtime/implement';
import { materializeFeatures } from './materialize';
import { buildTrainingSet } from './training-set';

export { materializeFeatures, materializeFeatureView, type MaterializeContext, type MaterializeRequest, type MaterializeResult } from './materialize';
export { buildTrainingSet, buildTrainingSetFrom, type TrainingSetRequest } from './training-set';
export { readOnlineFeatures, type EntityKey, type EntityKeyValue, type OnlineFeatureRow } from './online-read';
export { pointInTimeJoin, type PitFeatureSource, type PitJoinOptions } from './pit-join';
export { applyFeatureView, type AppliedView } from './transform';
export { readOfflineFeatures } from './offline-store';

/** The feature steps' implementations (queue cpu). */
export const featureImplementations: StepImplementation[] = [materializeFeatures, buildTrainingSet] as StepImplementation[];
