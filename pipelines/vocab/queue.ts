import { z } from 'zod';

/**
 * Queues. A step names the kind of worker it needs (`cpu` or `gpu`); a deployment maps each kind
 * to a Temporal task queue name (SLUICE_CPU_QUEUE, SLUICE_GPU_QUEUE in infra/config.ts, plus the
 * workflow queue). Pure: workflow code may import it.
 */

export const QUEUES = ['cpu', 'gpu'] as const;
/** The kind of worker a step runs on. */
export type Queue = (typeof QUEUES)[number];
export const queueSchema = z.enum(QUEUES);

/** A Temporal task queue name as Sluice accepts it in settings. */
export const taskQueueName = z.string().regex(/^[A-Za-z0-9._-]+$/, 'a task queue name (letters, digits, . _ -)');
