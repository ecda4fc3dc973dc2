import type { FastifyInstance } from 'fastify';
import csrfProtection from '@fastify/csrf-protection';

/**
 * CSRF protection of every action (POST): @fastify/csrf-protection keeps its secret in a cookie
 * and checks the token each form carries (`_csrf`). It reads cookies through @fastify/cookie's
 * request.cookies / reply.setCookie; the console sets no other cookie, so those two are provided
 * here for the one strict, HTTP-only cookie it needs.
 */

declare module 'fastify' {
  interface FastifyRequest {
    cookies: Record<string, string>;
  }
  interface FastifyReply {
    setCookie(name: string, value: string, opts?: { path?: string; sameSite?: boolean | string; httpOnly?: boolean }): FastifyReply;
  }
}

const COOKIE = 'sluice_csrf';

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      const value = part.slice(eq + 1).trim();
      try {
        out[part.slice(0, eq).trim()] = decodeURIComponent(value);
      } catch {
        // a cookie of someone else's, not URI-encoded: not ours
      }
    }
  }
  return out;
}

export async function registerCsrf(app: FastifyInstance): Promise<void> {
  app.decorateRequest('cookies', null as unknown as Record<string, string>);
  app.decorateReply('setCookie', function (this: { header(n: string, v: string): unknown }, name: string, value: string) {
    this.header('Set-Cookie', `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict`);
    return this as never;
  });
  app.addHook('onRequest', async (req) => {
    req.cookies = parseCookies(req.headers.cookie);
  });
  await app.register(csrfProtection, { cookieKey: COOKIE, cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true } });
}
