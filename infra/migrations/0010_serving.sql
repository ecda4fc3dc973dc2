-- Online serving (issue 16): the routing table every serving replica reads, and the prediction log
-- with its feedback. infra/db/serving.ts (the server) and the rollout activities are the writers.

-- What a model's traffic goes to. No row for a model: it is served by its `champion` alias (the
-- registry decides). Rows: a rollout (or an operator) has split the traffic into variants; the
-- live weights sum to 1, shadow variants score mirrored requests and never answer.
CREATE TABLE serving_routes (
  model_name  text NOT NULL REFERENCES registered_models (name),
  variant     text NOT NULL CHECK (variant ~ '^[A-Za-z0-9_-]{1,64}$'),
  version     integer NOT NULL,
  mode        text NOT NULL CHECK (mode IN ('live', 'shadow')),
  weight      double precision NOT NULL CHECK (weight >= 0 AND weight <= 1),
  -- Bumped on every change of the model's weights: a request key keeps its variant for one epoch.
  epoch       bigint NOT NULL CHECK (epoch >= 0),
  -- The rollout workflow that set it (null: set by hand).
  rollout_id  text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, variant),
  FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

-- Every online prediction, written in batches (COPY), never one round trip per request.
CREATE TABLE online_predictions (
  id           uuid PRIMARY KEY,
  model_name   text NOT NULL,
  version      integer NOT NULL,
  variant      text NOT NULL,
  mode         text NOT NULL CHECK (mode IN ('live', 'shadow')),
  -- A shadow prediction points at the live one it mirrors.
  shadow_of    uuid,
  request_key  text,
  created_at   timestamptz NOT NULL,
  latency_ms   real NOT NULL CHECK (latency_ms >= 0),
  features     jsonb NOT NULL,
  output       jsonb,
  error        text
);
CREATE INDEX online_predictions_model_time ON online_predictions (model_name, created_at);
CREATE INDEX online_predictions_variant_time ON online_predictions (model_name, variant, created_at);
CREATE INDEX online_predictions_shadow_of ON online_predictions (shadow_of) WHERE shadow_of IS NOT NULL;

-- A label or a reward for a prediction (POST /v1/feedback). The last one for an id counts.
CREATE TABLE prediction_feedback (
  prediction_id  uuid NOT NULL,
  label          jsonb,
  reward         double precision,
  received_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (label IS NOT NULL OR reward IS NOT NULL)
);
CREATE INDEX prediction_feedback_id ON prediction_feedback (prediction_id, received_at);

-- Replicas follow routing and alias changes within a second: both notify `sluice_routes` with the
-- model's name as payload (the server then rereads that model's routes and aliases).
CREATE FUNCTION serving_notify_routes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sluice_routes', COALESCE(NEW.model_name, OLD.model_name));
  RETURN NULL;
END $$;
CREATE TRIGGER serving_routes_notify AFTER INSERT OR UPDATE OR DELETE ON serving_routes
  FOR EACH ROW EXECUTE FUNCTION serving_notify_routes();
CREATE TRIGGER alias_events_notify AFTER INSERT ON alias_events
  FOR EACH ROW EXECUTE FUNCTION serving_notify_routes();
