/**
 * Structured JSON logs on stderr, one object per line, carrying whatever bindings the caller
 * attached (run id, pipeline, step). Values under secret-looking keys are never written.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

const SECRET_KEY = /secret|password|token|access_?key|credential/i;

export function createLogger(bindings: Record<string, unknown> = {}, level: Level = 'info', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    const rec: Record<string, unknown> = { ts: new Date().toISOString(), level: lvl, msg, ...bindings, ...fields };
    for (const k of Object.keys(rec)) if (SECRET_KEY.test(k)) rec[k] = '***';
    sink(JSON.stringify(rec, (_k, v) => (v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? String(v) : v)));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger({ ...bindings, ...b }, level, sink),
  };
}
