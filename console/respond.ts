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
