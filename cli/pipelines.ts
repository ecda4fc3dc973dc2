import { loadConfig } from '../infra/config';
import { loadCatalogue, type Catalogue } from '../pipelines/catalogue';

export { findPipeline } from '../pipelines/catalogue';

/** The catalogue as the CLI sees it: the same pipelines the workers serve, without their implementations. */
export async function cliCatalogue(): Promise<Catalogue> {
  return loadCatalogue(loadConfig().extraPipelines);
}
