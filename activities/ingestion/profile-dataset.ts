import pl from 'nodejs-polars';
import { profileDatasetStep } from '../../pipelines/steps/ingestion';
import { withLocalCopy } from '../data/frames';
import { implement } from '../runtime/implement';
import { putProfile } from './ingest';
import { profileFrame } from './profile';
import { startProgress } from './progress';

/** The `profile-dataset` step: the profile of any dataset (Parquet artifact) as a JSON artifact. */
export const profileDataset = implement(profileDatasetStep, async ({ dataset }, ctx) => {
  const progress = startProgress(ctx);
  try {
    const profile = await withLocalCopy(ctx.store, dataset, (file) =>
      profileFrame(pl.scanParquet(file), { onColumn: (column, i, n) => progress.set({ profiling: `${i + 1}/${n} ${column}` }) }),
    );
    return { profile: await putProfile(ctx, profile) };
  } finally {
    progress.stop();
  }
});
