import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';

/** A reference to an artifact: what steps pass each other instead of data. */
export const artifactRef = passedOnValue(
  z.object({
    uri: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
    size: z.number().int().nonnegative(),
  }),
);
export type ArtifactRefValue = z.infer<typeof artifactRef>;
