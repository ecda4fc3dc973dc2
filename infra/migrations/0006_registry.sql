-- Model registry, with MLflow's semantics: registered models, immutable numbered versions,
-- aliases (every move audited in alias_events), and promotion decisions (model_decisions).
-- infra/db/registry.ts is the only writer.

-- Name rules (MLflow's, ASCII): letters, digits, "_" and "-", 1 to 255 characters.
CREATE TABLE registered_models (
  name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_-]{1,255}$'),
  description   text,
  tags          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(tags) = 'object'),
  -- The last version number handed out. Versions count 1, 2, 3… per model and are never reused;
  -- bumping this column (under the row's lock) is what serialises concurrent registrations.
  last_version  integer NOT NULL DEFAULT 0 CHECK (last_version >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  model_name     text NOT NULL REFERENCES registered_models (name),
  version        integer NOT NULL CHECK (version > 0),
  -- The ONNX artifact.
  source_uri     text NOT NULL,
  source_sha256  text NOT NULL CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes     bigint NOT NULL CHECK (size_bytes >= 0),
  -- The pipeline run that registered it (Temporal run id); no foreign key, since a version can
  -- be registered outside a recorded run.
  run_id         text,
  status         text NOT NULL DEFAULT 'READY' CHECK (status IN ('PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY')),
  description    text,
  tags           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(tags) = 'object'),
  signature      jsonb NOT NULL,
  model_card     jsonb NOT NULL,
  metrics        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metrics) = 'object'),
  params         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
  -- Dataset versions, feature views and the pipeline the version came from.
  lineage        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(lineage) = 'object'),
  -- git commit of the code that registered it (SLUICE_CODE_VERSION or `git rev-parse HEAD`).
  code_version   text,
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, version)
);
-- The same artifact registered again for a model by the same run (or again without a run) is the
-- same version: registration is idempotent.
CREATE UNIQUE INDEX model_versions_same_source ON model_versions (model_name, source_sha256, COALESCE(run_id, ''));
CREATE INDEX model_versions_run ON model_versions (run_id) WHERE run_id IS NOT NULL;

-- Versions are immutable: only status, description and tags may change after registration.
CREATE FUNCTION model_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.model_name, NEW.version, NEW.source_uri, NEW.source_sha256, NEW.size_bytes, NEW.run_id, NEW.signature,
      NEW.model_card, NEW.metrics, NEW.params, NEW.lineage, NEW.code_version, NEW.created_by, NEW.created_at)
     IS DISTINCT FROM
     (OLD.model_name, OLD.version, OLD.source_uri, OLD.source_sha256, OLD.size_bytes, OLD.run_id, OLD.signature,
      OLD.model_card, OLD.metrics, OLD.params, OLD.lineage, OLD.code_version, OLD.created_by, OLD.created_at) THEN
    RAISE EXCEPTION 'model version %/% is immutable: only its status, description and tags can change', OLD.model_name, OLD.version
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON model_versions
  FOR EACH ROW EXECUTE FUNCTION model_versions_immutable();

-- An alias points at exactly one version; a version may carry many. `latest` and `v<digits>`
-- are reserved (they mean something in model URIs).
CREATE TABLE model_aliases (
  model_name  text NOT NULL,
  alias       text NOT NULL CHECK (alias ~ '^[A-Za-z0-9_-]{1,255}$' AND lower(alias) <> 'latest' AND alias !~ '^[vV][0-9]+$'),
  version     integer NOT NULL,
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, alias),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);
CREATE INDEX model_aliases_version ON model_aliases (model_name, version);

-- Promotion decisions: automatic (a pipeline's promote-model step, by `sluice-pipeline`) or
-- manual (a person approving or rejecting), with the numbers they were based on.
CREATE TABLE model_decisions (
  id                  bigserial PRIMARY KEY,
  model_name          text NOT NULL REFERENCES registered_models (name),
  alias               text NOT NULL,
  challenger_version  integer NOT NULL,
  -- The alias's version when decided (null: it pointed nowhere).
  champion_version    integer,
  outcome             text NOT NULL CHECK (outcome IN ('promoted', 'rejected', 'pending_approval', 'stale')),
  mode                text NOT NULL CHECK (mode IN ('automatic', 'manual')),
  metric              text,
  direction           text CHECK (direction IN ('higher', 'lower')),
  margin              double precision,
  margin_kind         text CHECK (margin_kind IN ('absolute', 'relative')),
  challenger_value    double precision,
  champion_value      double precision,
  delta               double precision,
  decided_by          text NOT NULL CHECK (decided_by <> ''),
  reason              text NOT NULL CHECK (reason <> ''),
  details             jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- A manual decision on a pending one; each pending decision is resolved at most once.
  resolves            bigint UNIQUE REFERENCES model_decisions (id),
  -- Retries of the same decision (a step's run/node, an update's id) find it instead of adding one.
  idempotency_key     text UNIQUE,
  run_id              text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (model_name, challenger_version) REFERENCES model_versions (model_name, version)
);
CREATE INDEX model_decisions_model ON model_decisions (model_name, id DESC);

-- Every alias move: who, when, why, from which version to which.
CREATE TABLE alias_events (
  id            bigserial PRIMARY KEY,
  model_name    text NOT NULL REFERENCES registered_models (name),
  alias         text NOT NULL,
  action        text NOT NULL CHECK (action IN ('set', 'delete')),
  from_version  integer,
  to_version    integer,
  actor         text NOT NULL CHECK (actor <> ''),
  reason        text NOT NULL CHECK (reason <> ''),
  decision_id   bigint REFERENCES model_decisions (id),
  run_id        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((action = 'set') = (to_version IS NOT NULL)),
  CHECK (action = 'set' OR from_version IS NOT NULL)
);
CREATE INDEX alias_events_model ON alias_events (model_name, alias, id);

-- The audit trail is append-only.
CREATE FUNCTION registry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER alias_events_append_only BEFORE UPDATE OR DELETE ON alias_events
  FOR EACH ROW EXECUTE FUNCTION registry_append_only();
CREATE TRIGGER model_decisions_append_only BEFORE UPDATE OR DELETE ON model_decisions
  FOR EACH ROW EXECUTE FUNCTION registry_append_only();
