import http from 'node:http';
import { metricsRegistry } from '../infra/metrics';

/**
 * One /metrics endpoint per worker: Temporal's worker metrics (scraped from the runtime's own
 * exporter on a loopback port) followed by Sluice's. One port to scrape, one place to look.
 */
export function serveMetrics(port: number, temporalMetricsPort: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found; try /metrics\n');
      return;
    }
    try {
      const temporal = await fetch(`http://127.0.0.1:${temporalMetricsPort}/metrics`).then((r) => r.text()).catch(() => '');
      const own = await metricsRegistry.metrics();
      res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(`${temporal.trimEnd()}\n${own}`);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}
