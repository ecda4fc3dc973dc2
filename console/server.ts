import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import { ArtifactNotFoundError } from '../infra/artifacts';
import { createLogger, type Logger } from '../infra/log';
import { projectRoot } from '../infra/paths';
import { registerAuth } from './auth';
import { registerCsrf } from './csrf';
import type { ConsoleDeps } from './deps';
import { html } from './html';
import { page } from './layout';
import { registerDatasetPages } from './pages/datasets';
import { registerModelPages } from './pages/models';
import { registerMonitoringPages } from './pages/monitoring';
import { registerPipelinePages } from './pages/pipelines';
import { registerReportPages } from './pages/reports';
import { registerRolloutPages } from './pages/rollouts';
import { registerRunPages } from './pages/runs';
import { sendPage } from './respond';

/**
 * The web console (`sluice ui`): server-rendered pages over PostgreSQL, the artifact store and
 * Temporal. Pages are HTML from template literals (console/html.ts escapes every value); charts are
 * ECharts and DAGs dagre-laid SVG, started by one static script. Nothing is cached between
 * requests: every page reads the database afresh, within the indexes of migration 0011.
 */

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // ECharts and the chart boxes size themselves with style attributes.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** Errors a page shows as 4xx: a name or version that does not exist, a value the registry refuses. */
function statusOf(e: Error & { code?: unknown; statusCode?: number; type?: unknown }): number {
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return e.statusCode;
  // A recorded artifact whose bytes are gone (deleted from the store) is not found either.
  if (e.code === 'NOT_FOUND' || e instanceof ArtifactNotFoundError || /^unknown pipeline /.test(e.message) || /^no (registered model|such)/.test(e.message)) return 404;
  if (e.code === 'INVALID' || e.code === 'CONFLICT' || e.name === 'InvalidDatasetNameError') return 400;
  return 500;
}

export async function createConsole(deps: ConsoleDeps, opts: { log?: Logger } = {}): Promise<FastifyInstance> {
  const log = opts.log ?? createLogger({ component: 'console' });
  const app = Fastify({ logger: false });
  registerAuth(app, deps.token);
  await registerCsrf(app);
  await app.register(formbody);
  await app.register(fastifyStatic, { root: path.join(projectRoot, 'console', 'client'), prefix: '/static/console/', index: false });
  await app.register(fastifyStatic, {
    root: path.join(projectRoot, 'node_modules', 'echarts', 'dist'),
    prefix: '/static/echarts/',
    decorateReply: false,
    index: false,
    allowedPath: (p) => p === '/echarts.min.js',
  });
  app.addHook('onSend', async (_req, reply) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html') && !reply.getHeader('content-security-policy')) {
      reply.header('Content-Security-Policy', CSP).header('X-Content-Type-Options', 'nosniff').header('Referrer-Policy', 'same-origin');
    }
  });
  app.setErrorHandler((error: Error, req, reply) => {
    const code = statusOf(error);
    // The URL's path only: its query may hold what a user typed.
    if (code >= 500) log.error('console request failed', { method: req.method, path: req.url.split('?')[0], error: error.stack ?? error.message });
    if (req.url.endsWith('.json') || req.headers.accept === 'application/json') return reply.code(code).send({ error: error.message });
    return sendPage(reply, page({ title: code === 404 ? 'Not found' : code === 403 ? 'Refused' : code < 500 ? 'Bad request' : 'Error' }, html`<p class="notice error" role="alert">${error.message}</p>`), code);
  });
  app.setNotFoundHandler((req, reply) => sendPage(reply, page({ title: 'Not found' }, html`<p>Nothing at <code>${req.url}</code>.</p>`), 404));

  app.get('/', async (_req, reply) => reply.redirect('/runs'));
  app.get('/healthz', async () => ({ ok: true }));
  registerPipelinePages(app, deps);
  registerRunPages(app, deps);
  registerModelPages(app, deps);
  registerDatasetPages(app, deps);
  registerMonitoringPages(app, deps);
  registerReportPages(app, deps);
  registerRolloutPages(app, deps);
  return app;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Listens on host:port; anything but loopback needs a token (an exposed console without one is refused, not warned about). */
export async function serveConsole(app: FastifyInstance, o: { host: string; port: number; token?: string | undefined }): Promise<string> {
  if (!LOOPBACK.has(o.host) && !o.token) {
    throw new Error(`the console would listen on ${o.host} without authentication: set SLUICE_UI_TOKEN_ENV to the name of a variable holding a token (bearer, or the password of basic auth) or keep SLUICE_UI_HOST=127.0.0.1`);
  }
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
}
