import { loadConfig } from '../infra/config';
import { loadCatalogue, type Catalogue } from '../pipelines/catalogue';

export { findPipeline } from '../pipelines/catalogue';

const compiled = new Map<string, Promise<Catalogue>>();

/**
 * The catalogue as the CLI sees it: the same pipelines the workers serve, without their
 * implementations. Compiled once per process (and extra module): the code cannot change under a
 * running process, and a long-lived one (the console starts runs) must not compile every
 * pipeline again for each start.
 */
export async function cliCatalogue(): Promise<Catalogue> {
  const extra = loadConfig().extraPipelines;
  const key = extra ?? '';
  let cat = compiled.get(key);
  if (!cat) {
    cat = loadCatalogue(extra);
    compiled.set(key, cat);
    cat.catch(() => compiled.delete(key)); // a module that failed to load is tried again next time
  }
  return cat;
}
