import type { FastifyReply } from 'fastify';
import type { Html } from './html';

/** What an action redirects back with, shown once by the page. */
export interface Flash {
  done?: string;
  error?: string;
}

export function sendPage(reply: FastifyReply, body: Html, code = 200): FastifyReply {
  return reply.code(code).type('text/html; charset=utf-8').send(body.value);
}

/** A positive integer from a path or query value, or undefined. */
export function positiveInt(s: unknown): number | undefined {
  return typeof s === 'string' && /^[1-9]\d{0,9}$/.test(s) ? Number(s) : undefined;
}

/**
 * What Temporal answers within `ms`, else undefined (also when it fails): a page shows the database's
 * view rather than wait on a server that is down or slow (the client's connect alone waits 5 s).
 */
export async function within<T>(p: Promise<T> | undefined, ms = 1500): Promise<T | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
