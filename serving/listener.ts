import pg from 'pg';
import type { Logger } from '../infra/log';
import { ROUTES_CHANNEL } from '../pipelines/serving/routes';

/**
 * LISTEN on `sluice_routes` over a connection of its own (a pooled one would be handed back and
 * lose the LISTEN). Route and alias changes notify with the model's name (migration 0010's
 * triggers). A lost connection is reopened with backoff, and then every model is reloaded:
 * notifications sent while it was down are gone.
 */
export interface RoutesListener {
  /** Resolves once the first LISTEN is in place. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function listenForRoutes(url: string, on: { change(model: string): void; resync(): void }, log: Logger): RoutesListener {
  let client: pg.Client | undefined;
  let closed = false;
  let delay = 500;
  let timer: NodeJS.Timeout | undefined;
  let first = true;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, application_name: 'sluice-serve-listen' });
    c.on('error', (e) => lost(c, e));
    c.on('end', () => lost(c, new Error('connection ended')));
    c.on('notification', (n) => {
      if (n.channel === ROUTES_CHANNEL && n.payload) on.change(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${ROUTES_CHANNEL}`);
    } catch (e) {
      lost(c, e as Error);
      return;
    }
    if (closed) return void c.end().catch(() => undefined);
    client = c;
    delay = 500;
    if (!first) on.resync();
    first = false;
    markReady();
  };

  const handled = new WeakSet<pg.Client>();
  const lost = (c: pg.Client, e: Error) => {
    // A client reports its loss once or twice (error, then end): one reconnect per client.
    if (closed || handled.has(c)) return;
    handled.add(c);
    client = undefined;
    c.removeAllListeners('end');
    void c.end().catch(() => undefined);
    log.warn(`route notifications lost (${e.message}); listening again in ${delay} ms`);
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
    delay = Math.min(delay * 2, 10_000);
  };

  void connect();
  return {
    ready,
    close: async () => {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      c?.removeAllListeners('end');
      await c?.end().catch(() => undefined);
    },
  };
}
