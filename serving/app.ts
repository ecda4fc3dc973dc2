import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { Db } from '../infra/db/pool';
import { recordFeedback } from '../infra/db/serving';
import type { Logger } from '../infra/log';
import { ServingError, type ErrorBody } from './errors';
import type { ServingMetrics } from './metrics';
import { datatypeOf, outputTensors, predictionDatatype, tensorsToInstances, type InferTensor } from './open-inference';
import type { Predictor } from './predict';
import { UnknownModel, type Router } from './router';

/**
 * The serving HTTP API on fastify:
 * - Open Inference Protocol (KServe v2): GET /v2/health/live, /v2/health/ready, /v2/models/{name},
 *   /v2/models/{name}/ready, POST /v2/models/{name}/infer (named tensors);
 * - rows in, predictions out: POST /v1/models/{name}:predict with {"instances": [{feature: value}, …]};
 * - POST /v1/feedback {prediction_id, label | reward}; GET /metrics; GET /openapi.json.
 * Every error is JSON ({"error": {code, message, field}}) with a 4xx for what the client sent;
 * a 500 says only "internal error" (the details go to the log, never a stack to the client).
 */

export interface AppOptions {
  db: Db;
  router: Router;
  predictor: Predictor;
  metrics: ServingMetrics;
  log: Logger;
  /** Every request must carry `Authorization: Bearer <token>` (compared in constant time). */
  token?: string | undefined;
  /** Requests per second per client address; 0: no limit. */
  rateLimit: number;
  /** Largest request body, bytes. */
  bodyLimit?: number;
  /** Rows per request at most. */
  maxRows?: number;
  /** Whether the server can take predictions (inference threads up, routes listened to). */
  ready: () => boolean;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_MAX_ROWS = 1000;

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } }, required: ['code', 'message'] } },
} as const;

const modelParam = { type: 'object', properties: { name: { type: 'string', pattern: '^[\\w-]{1,255}$' } }, required: ['name'] } as const;

export async function buildServingApp(o: AppOptions): Promise<FastifyInstance> {
  const maxRows = o.maxRows ?? DEFAULT_MAX_ROWS;
  const app = Fastify({
    bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Types are what the schema says: "5" is not a number, and nothing is coerced or dropped quietly.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    logger: false,
  });

  app.setErrorHandler((err: FastifyError | ServingError, req, reply) => {
    const body = errorBody(err);
    const status = err instanceof ServingError ? err.statusCode : err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) o.log.error('request failed', { method: req.method, url: req.url, error: err.message });
    if (!(err instanceof ServingError) || err.code !== 'inference_failed') o.metrics.rejected.inc({ code: body.error.code });
    void reply.status(status).send(status >= 500 && !(err instanceof ServingError) ? { error: { code: 'internal', message: 'internal error' } } : body);
  });
  app.setNotFoundHandler((req, reply) => {
    o.metrics.rejected.inc({ code: 'not_found' });
    void reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } } satisfies ErrorBody);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Sluice serving', description: 'Registered models by alias: the Open Inference Protocol (KServe v2) and a row-oriented JSON form', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(o.token ? { security: [{ bearer: [] }] } : {}),
    },
  });

  if (o.token) {
    const want = digest(o.token);
    app.addHook('onRequest', async (req, reply) => {
      const h = req.headers.authorization;
      const given = h?.startsWith('Bearer ') ? h.slice(7) : undefined;
      if (given === undefined || !timingSafeEqual(digest(given), want)) {
        void reply.header('www-authenticate', 'Bearer');
        throw new ServingError(401, 'unauthorized', given === undefined ? 'an Authorization: Bearer <token> header is required' : 'the bearer token is not valid', 'authorization');
      }
    });
  }
  if (o.rateLimit > 0) {
    await app.register(rateLimit, {
      max: o.rateLimit,
      timeWindow: 1000,
      errorResponseBuilder: (_req, ctx) => new ServingError(429, 'rate_limited', `more than ${ctx.max} requests per second from this client; retry in ${ctx.after}`),
    });
  }

  app.get('/v2/health/live', { schema: { tags: ['health'] } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { schema: { tags: ['health'] } }, async (_req, reply) => {
    const ready = o.ready();
    return reply.status(ready ? 200 : 503).send({ ready });
  });

  app.get('/v2/models/:name', { schema: { tags: ['open inference'], params: modelParam } }, async (req) => {
    const { name } = req.params as { name: string };
    const t = await tableOf(o.router, name);
    const served = t.live[0]!.served;
    const versions = [...new Set([...t.live, ...t.shadow].map((v) => String(v.served.version)))];
    return {
      name,
      versions,
      platform: 'onnxruntime',
      inputs: served.features.map((f) => ({ name: f.name, datatype: datatypeOf(f.type), shape: [-1, 1] })),
      outputs: [
        { name: 'prediction', datatype: predictionDatatype(served.ref), shape: [-1] },
        ...(served.ref.signature.task !== 'regression' ? [{ name: 'probabilities', datatype: 'FP32', shape: [-1, served.ref.signature.classes?.length ?? 0] }] : []),
        { name: 'prediction_id', datatype: 'BYTES', shape: [-1] },
      ],
      parameters: { source: t.source, epoch: t.epoch, variants: [...t.live, ...t.shadow].map((v) => ({ variant: v.variant, version: v.served.version, weight: v.weight, mode: t.shadow.includes(v) ? 'shadow' : 'live' })) },
    };
  });
  app.get('/v2/models/:name/ready', { schema: { tags: ['open inference'], params: modelParam } }, async (req) => {
    const { name } = req.params as { name: string };
    await tableOf(o.router, name);
    return { name, ready: true };
  });

  app.post(
    '/v2/models/:name/infer',
    {
      schema: {
        tags: ['open inference'],
        params: modelParam,
        body: {
          type: 'object',
          required: ['inputs'],
          properties: {
            id: { type: 'string' },
            parameters: { type: 'object', properties: { key: { type: 'string', maxLength: 256 } } },
            inputs: {
              type: 'array',
              minItems: 1,
              maxItems: 1024,
              items: {
                type: 'object',
                required: ['name', 'shape', 'datatype', 'data'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  shape: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'integer', minimum: 0 } },
                  datatype: { type: 'string' },
                  data: { type: 'array' },
                  parameters: { type: 'object' },
                },
              },
            },
            outputs: { type: 'array' },
          },
        },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const body = req.body as { id?: string; parameters?: { key?: string }; inputs: InferTensor[] };
      const rows = body.inputs[0]!.shape[0]!;
      if (rows > maxRows) throw new ServingError(413, 'too_many_rows', `${rows} rows; at most ${maxRows} per request`, 'inputs[0].shape');
      const r = await o.predictor.predict({
        model: name,
        key: body.parameters?.key ?? header(req.headers['x-request-key']),
        instances: (served) => tensorsToInstances(served.ref, served.features, body.inputs, served.online),
        where: (i) => `inputs (row ${i})`,
      });
      return {
        model_name: name,
        model_version: String(r.served.version),
        ...(body.id !== undefined ? { id: body.id } : {}),
        parameters: { variant: r.variant },
        outputs: outputTensors(r.served.ref, r.outputs, r.ids),
      };
    },
  );

  app.post(
    '/v1/models/:name(^[\\w-]+)::predict',
    {
      schema: {
        tags: ['rows'],
        params: modelParam,
        body: {
          type: 'object',
          required: ['instances'],
          properties: {
            instances: {
              type: 'array',
              minItems: 1,
              items: { type: 'object', description: 'feature values by name, or {"entity": {key: value}} for a model with feature views (the features are read from the online store; values given inline win)' },
            },
            key: { type: 'string', maxLength: 256, description: 'sticky assignment key (e.g. a user id): the same key gets the same variant while the weights stay' },
          },
        },
        response: { 400: errorSchema, 404: errorSchema },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const body = req.body as { instances: unknown[]; key?: string };
      if (body.instances.length > maxRows) throw new ServingError(413, 'too_many_rows', `${body.instances.length} rows; at most ${maxRows} per request`, 'instances');
      const r = await o.predictor.predict({
        model: name,
        key: body.key ?? header(req.headers['x-request-key']),
        instances: () => body.instances,
        where: (i) => `instances[${i}]`,
      });
      return {
        model: name,
        version: r.served.version,
        variant: r.variant,
        predictions: r.outputs.map((out, i) => ({ id: r.ids[i], ...out })),
      };
    },
  );

  app.post(
    '/v1/feedback',
    {
      schema: {
        tags: ['rows'],
        body: {
          type: 'object',
          required: ['prediction_id'],
          properties: {
            prediction_id: { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
            label: { description: 'the true outcome (as the model predicts it: a class or a value)' },
            reward: { type: 'number', description: 'a reward for the prediction (e.g. 1 converted, 0 not)' },
          },
        },
        response: { 202: { type: 'object', properties: { prediction_id: { type: 'string' }, received_at: { type: 'string' } } }, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const body = req.body as { prediction_id: string; label?: unknown; reward?: number };
      if (body.label === undefined && body.reward === undefined) throw new ServingError(400, 'invalid_input', 'give a label or a reward', 'label');
      if (body.label === null) throw new ServingError(400, 'invalid_input', 'a label cannot be null', 'label');
      const { receivedAt } = await recordFeedback(o.db, { predictionId: body.prediction_id, label: body.label, ...(body.reward !== undefined ? { reward: body.reward } : {}) });
      return reply.status(202).send({ prediction_id: body.prediction_id, received_at: receivedAt.toISOString() });
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics()));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}

async function tableOf(router: Router, name: string) {
  try {
    return await router.table(name);
  } catch (e) {
    if (e instanceof UnknownModel) throw new ServingError(404, 'unknown_model', e.message, 'model');
    throw e;
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** fastify's own errors (bad JSON, body too large, schema validation) as the API's error body. */
function errorBody(err: FastifyError | ServingError): ErrorBody {
  if (err instanceof ServingError) return { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } };
  const fe = err as FastifyError;
  if (fe.validation?.length) {
    const v = fe.validation[0]!;
    const where = fe.validationContext ?? 'body';
    const missing = v.keyword === 'required' ? `/${(v.params as { missingProperty?: string }).missingProperty}` : '';
    const field = `${where}${v.instancePath}${missing}`.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
    return { error: { code: 'invalid_input', message: `${field}: ${v.keyword === 'required' ? 'missing' : v.message}`, field } };
  }
  const code =
    fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? 'body_too_large'
      : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'unsupported_media_type'
        : fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
          ? 'malformed_json'
          : fe.statusCode && fe.statusCode < 500
            ? 'bad_request'
            : 'internal';
  return { error: { code, message: fe.message } };
}
