import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * Access control when the console is exposed: with a token configured (the variable SLUICE_UI_TOKEN_ENV names), every
 * request needs it, as `Authorization: Bearer <token>` (scripts) or as the password of HTTP basic
 * auth with any user name (a browser's own login prompt; the name is then who acts in the audit
 * trail). Without a token the console serves loopback only (serve() refuses anything else).
 */

/** Compared as hashes: equal length, so timingSafeEqual never throws and length leaks nothing. */
function same(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** Who the request authenticated as: the basic-auth user name, '' for a bearer token, undefined when it did not. */
export function authenticate(header: string | undefined, token: string): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? '')) return same(value, token) ? '' : undefined;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return same(decoded.slice(colon + 1), token) ? decoded.slice(0, colon) : undefined;
  }
  return undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The basic-auth user name, when the request gave one. */
    user: string | undefined;
  }
}

export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  app.decorateRequest('user', undefined);
  if (!token) return;
  app.addHook('onRequest', async (req, reply) => {
    const who = authenticate(req.headers.authorization, token);
    if (who === undefined) {
      return reply.code(401).header('WWW-Authenticate', 'Basic realm="Sluice console", charset="UTF-8"').type('text/plain').send('authentication required\n');
    }
    req.user = who || undefined;
  });
}
