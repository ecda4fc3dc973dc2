import { greet } from './hello/greet';
import { inspectDevice } from './hello/inspect-device';
import type { StepImplementation } from './runtime/implement';
import { driftImplementations } from './drift';
import { evaluationImplementations } from './evaluation';
import { featureImplementations } from './features';
import { notifyMonitor } from './monitor/notify';
import { ingestionImplementations } from './ingestion';
import { resolveEvaluationData } from './data/resolve-evaluation';
import { splitDataset } from './data/split';
import { gbdtTrials, selectBest } from './training/hpo';
import { registryImplementations } from './registry';
import { startRollout } from './rollout/start-step';
import { scoringImplementations } from './scoring';
import { trainingImplementations } from './training';
import { utilImplementations } from './util';
import { validationImplementations } from './validation';

/** Every step implementation Sluice ships; each worker serves those of its queue. */
export const builtinImplementations: StepImplementation[] = [
  greet,
  inspectDevice,
  ...utilImplementations,
  ...ingestionImplementations,
  splitDataset,
  resolveEvaluationData,
  notifyMonitor,
  gbdtTrials,
  selectBest,
  ...validationImplementations,
  ...trainingImplementations,
  ...featureImplementations,
  ...driftImplementations,
  ...evaluationImplementations,
  ...registryImplementations,
  startRollout,
  ...scoringImplementations,
] as StepImplementation[];
