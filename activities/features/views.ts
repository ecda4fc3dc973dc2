import type { Db } from '../../infra/db/pool';
import { registerFeatureViewVersion, type FeatureViewVersionRow } from '../../infra/db/features';
import { canonicalJson, sha256Hex } from '../../pipelines/dsl/canonical';
import { onlineTableName, type FeatureView } from '../../pipelines/steps/features';
import { invalidInput } from '../../pipelines/failures';

/**
 * The registry side of feature views: a view version is registered on first use with the hash
 * of what defines its data (entities, times, TTL, features; not descriptions or tags), and
 * using the same name and version with another definition is refused: its online table and
 * offline parts were computed from the first one.
 */

export function viewDefinitionSha256(view: FeatureView): string {
  return sha256Hex(
    canonicalJson({
      entities: view.entities,
      timestamp: view.timestamp,
      created: view.created,
      ttl: view.ttl,
      features: view.features.map((f) => ({ name: f.name, expr: f.expr, type: f.type })),
    }),
  );
}

export async function registerView(db: Db, view: FeatureView): Promise<FeatureViewVersionRow> {
  const sha = viewDefinitionSha256(view);
  const row = await registerFeatureViewVersion(db, { name: view.name, version: view.version, definition: view, definitionSha256: sha, onlineTable: onlineTableName(view) });
  if (row.definition_sha256 !== sha) {
    throw invalidInput(`feature view ${view.name} v${view.version} is registered with another definition; give the changed view a new version`);
  }
  return row;
}
