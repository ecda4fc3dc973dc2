import pl from 'nodejs-polars';
import { rowGroupCount } from '../activities/data/parquet-merge';
const df = pl.readParquet('node_modules/vega-datasets/data/flights-3m.parquet');
df.writeParquet('/tmp/rg.parquet', { compression: 'zstd' });
console.log('source', rowGroupCount('node_modules/vega-datasets/data/flights-3m.parquet'), 'rewritten', rowGroupCount('/tmp/rg.parquet'), df.height);
