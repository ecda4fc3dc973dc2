import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { projectRoot } from '../infra/paths';

/**
 * The real datasets of bench/gbdt-vs-sklearn.ts, from the vega-datasets npm package, each split
 * by time (train on the earlier rows, evaluate on the later ones) with a boolean label:
 *
 * - flights: flights-3m.parquet (US flights, Jan–Jun 2001); features hour, weekday, day of month,
 *   distance, origin and destination airports (~230 codes each); label delay > 15 minutes; train
 *   January–March, evaluate April.
 * - birdstrikes: birdstrikes.csv (FAA wildlife strikes, 10k rows); features airport, aircraft
 *   model (~225 codes), operator, state, phase of flight, wildlife size and species, time of day,
 *   speed, month; label: the strike did damage; train on the first 75% by date, evaluate the rest.
 */

const DATA = path.join(projectRoot, 'node_modules', 'vega-datasets', 'data');

export interface BenchDataset {
  name: string;
  target: string;
  numeric: string[];
  categorical: string[];
  train: pl.DataFrame;
  test: pl.DataFrame;
}

export function flights(): BenchDataset {
  const df = pl
    .readParquet(path.join(DATA, 'flights-3m.parquet'))
    .select(
      pl.col('date').dt.hour().cast(pl.Int32).alias('hour'),
      pl.col('date').dt.weekday().cast(pl.Int32).alias('weekday'),
      pl.col('date').dt.day().cast(pl.Int32).alias('day'),
      pl.col('date').dt.month().cast(pl.Int32).alias('month'),
      pl.col('distance'),
      pl.col('origin'),
      pl.col('destination'),
      pl.col('delay').gt(15).alias('late'),
    );
  const cols = ['hour', 'weekday', 'day', 'distance', 'origin', 'destination', 'late'];
  return {
    name: 'flights (delay > 15)',
    target: 'late',
    numeric: ['hour', 'weekday', 'day', 'distance'],
    categorical: ['origin', 'destination'],
    train: df.filter(pl.col('month').ltEq(3)).select(...cols),
    test: df.filter(pl.col('month').eq(4)).select(...cols),
  };
}

export function birdstrikes(): BenchDataset {
  const categorical = ['Airport Name', 'Aircraft Make Model', 'Aircraft Airline Operator', 'Origin State', 'Phase of flight', 'Wildlife Size', 'Wildlife Species', 'Time of day'];
  const df = pl
    .readCSV(fs.readFileSync(path.join(DATA, 'birdstrikes.csv'), 'utf8'))
    .withColumns(pl.col('Flight Date').str.strptime(pl.Date, '%Y-%m-%d').alias('date'))
    .sort('date')
    .select(
      ...categorical.map((c) => pl.col(c)),
      pl.col('Speed IAS in knots').cast(pl.Float64).alias('speed'),
      pl.col('date').dt.month().cast(pl.Int32).alias('month'),
      pl.col('Effect Amount of damage').neq(pl.lit('None')).alias('damage'),
    );
  const cut = Math.floor(df.height * 0.75);
  return {
    name: 'birdstrikes (damage)',
    target: 'damage',
    numeric: ['speed', 'month'],
    categorical,
    train: df.slice(0, cut),
    test: df.slice(cut, df.height - cut),
  };
}

/** Shared hyperparameters (scikit-learn's defaults where both have one; l2 1). */
export const benchParams = { nEstimators: 100, learningRate: 0.1, maxLeaves: 31, l2: 1, minDataInLeaf: 20, maxBins: 255, maxCategories: 255 };
