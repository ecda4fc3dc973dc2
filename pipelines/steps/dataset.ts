import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { artifactRef } from './artifact-ref';

/**
 * Datasets as steps see them: a reference to a Parquet artifact plus what is known about it.
 * Shared by ingestion, validation, features, training and scoring.
 */
/** `float32`: what a model outputs (class probabilities); ingestion reads every float as float64. */
export const columnType = z.enum(['int64', 'float64', 'float32', 'bool', 'string', 'date', 'timestamp', 'category']);
export type ColumnType = z.infer<typeof columnType>;

export const datasetColumn = z.object({ name: z.string().min(1), type: columnType, nullable: z.boolean() });
export const datasetSchema = z.array(datasetColumn);
export type DatasetSchema = z.infer<typeof datasetSchema>;

/** Dataset and feature-view names come from users: letters, digits, _ . - only (they reach SQL and paths). */
export const datasetName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'letters, digits, "_", "." and "-", starting with a letter (max 128)');

export const datasetRef = passedOnValue(
  artifactRef.extend({
    /** Registered name and version number (per name, from 1; identical data gets the same version). */
    name: datasetName,
    version: z.number().int().positive(),
    rows: z.number().int().nonnegative(),
    schema: datasetSchema,
  }),
);
export type DatasetRef = z.infer<typeof datasetRef>;

/**
 * A dataset ref as a person writes it into a run's params (build-training-set's `entities`): every
 * key must be known there. The ref steps pass each other stays lenient (pipelines/dsl/passed-on.ts).
 */
export const datasetRefParam = datasetRef.extend({ schema: z.array(datasetColumn.strict()) }).strict();
