import type { Command } from 'commander';
import { loadConfig, type SluiceConfig } from '../../infra/config';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import { serveOptions, startServing, type ServingServer } from '../../serving/server';

/**
 * `sluice serve`: registered models answer online requests (serving/): the Open Inference
 * Protocol under /v2, rows under /v1, on SLUICE_SERVE_HOST:SLUICE_SERVE_PORT (127.0.0.1:8080).
 * `sluice up` starts it too, on the stack's database.
 */
export async function startServe(config: SluiceConfig, o: { host?: string | undefined; port?: number | undefined; databaseUrl?: string | undefined } = {}): Promise<ServingServer> {
  const opts = serveOptions(config, o.databaseUrl ?? (await resolveDatabaseUrl(config)));
  return startServing({ ...opts, ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) });
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve registered models online by alias (KServe v2 /v2/models/NAME/infer, rows at /v1/models/NAME:predict; SLUICE_SERVE_HOST:SLUICE_SERVE_PORT)')
    .option('--port <port>', 'port (default: SLUICE_SERVE_PORT, 8080)')
    .option('--host <host>', 'address to bind (default: SLUICE_SERVE_HOST, 127.0.0.1)')
    .addHelpText(
      'after',
      `
Examples:
  sluice serve
  curl -s localhost:8080/v1/models/penguins-species:predict -H 'content-type: application/json' \\
    -d '{"instances":[{"Island":"Biscoe","Beak Length (mm)":48.6,"Beak Depth (mm)":16,"Flipper Length (mm)":230,"Body Mass (g)":5800,"Sex":"MALE"}]}'
  curl -s localhost:8080/openapi.json`,
    )
    .action(async (o: { port?: string; host?: string }) => {
      const config = loadConfig();
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port: expected a port number (0 to 65535), got ${JSON.stringify(o.port)}`);
      const server = await startServe(config, { host: o.host, port });
      console.log(`Sluice serving on ${server.url} (OpenAPI: ${server.url}/openapi.json; Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
