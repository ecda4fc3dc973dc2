import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { datasetName } from './steps/dataset';
import { col, featureTime, featureView, featureViewSchema, materializeFeaturesStep, rollingCount, rollingMean } from './steps/features';
import { declaredSchema, ingestSource, ingestStep } from './steps/ingestion';

/**
 * Ingest event data, then materialize a feature view over it: offline (a Parquet dataset version
 * per interval) and online (latest value per entity in PostgreSQL). Run it again later and it
 * continues from where the last materialization ended. Defaults: delays per origin airport over
 * vega-datasets' flights.
 */
export const routeDelays = featureView({
  name: 'origin_delays',
  entities: ['origin'],
  timestamp: 'date',
  ttl: '30d',
  version: 1,
  features: [col('distance').as('last_distance'), rollingMean('delay', '7d').as('delay_mean_7d'), rollingCount('delay', '1d').as('flights_1d')],
});

export const materializeFeaturesParams = z
  .object({
    source: ingestSource.default({ kind: 'file', path: 'node_modules/vega-datasets/data/flights-20k.json' }),
    name: datasetName.default('flights'),
    schema: declaredSchema.default([{ name: 'date', type: 'timestamp', nullable: false }]),
    view: featureViewSchema.default(routeDelays),
    start: featureTime.optional(),
    end: featureTime.optional(),
    online: z.boolean().default(true),
  })
  .strict();

export const materializeFeatures = pipeline(
  { name: 'materialize-features', description: 'ingest events, materialize a feature view offline and online (incrementally)', params: materializeFeaturesParams },
  (p, b) => {
    const events = b.step('ingest', ingestStep, { source: p.source, name: p.name, schema: p.schema });
    const m = b.step('materialize', materializeFeaturesStep, { source: events.output.dataset, view: p.view, start: p.start, end: p.end, online: p.online });
    return { offline: m.output.offline, interval: m.output.interval, onlineRows: m.output.onlineRows };
  },
);
