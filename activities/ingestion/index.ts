import type { StepImplementation } from '../runtime/implement';
import { ingest } from './ingest';
import { profileDataset } from './profile-dataset';

export { ingest, runIngest } from './ingest';
export { profileDataset } from './profile-dataset';
export { profileFrame } from './profile';

/** The ingestion stage's step implementations (registered by activities/index.ts). */
export const ingestionImplementations = [ingest, profileDataset] as StepImplementation[];
