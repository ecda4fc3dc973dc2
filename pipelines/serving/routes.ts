import { z } from 'zod';

/**
 * The serving routing table's vocabulary (migration 0010, table serving_routes), shared by the
 * serving process (serving/), the rollout workflow's activities and the CLI.
 *
 * No route for a model: requests go to its `champion` alias. With routes, live variants split the
 * traffic by weight (weights sum to 1) and shadow variants score a mirror of every request without
 * answering. `epoch` changes with every weight change: a request key (e.g. a user id) keeps its
 * variant for the life of one epoch (sticky assignment).
 */

export const VARIANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const RouteMode = z.enum(['live', 'shadow']);
export type RouteMode = z.infer<typeof RouteMode>;

export const Route = z
  .object({
    variant: z.string().regex(VARIANT_NAME, 'a variant name is 1 to 64 letters, digits, "_" or "-"'),
    version: z.number().int().positive(),
    mode: RouteMode,
    weight: z.number().min(0).max(1),
  })
  .strict();
export type Route = z.infer<typeof Route>;

/** A model's whole routing table, as written in one transaction. */
export const RouteTable = z
  .array(Route)
  .min(1)
  .superRefine((routes, ctx) => {
    const names = new Set<string>();
    for (const [i, r] of routes.entries()) {
      if (names.has(r.variant)) ctx.addIssue({ code: 'custom', path: [i, 'variant'], message: `variant ${r.variant} appears twice` });
      names.add(r.variant);
      if (r.mode === 'shadow' && r.weight !== 0) ctx.addIssue({ code: 'custom', path: [i, 'weight'], message: 'a shadow variant answers no request: its weight is 0' });
    }
    const live = routes.filter((r) => r.mode === 'live');
    const sum = live.reduce((s, r) => s + r.weight, 0);
    if (live.length === 0 || Math.abs(sum - 1) > 1e-9) ctx.addIssue({ code: 'custom', path: [], message: `live weights sum to ${sum}, not 1` });
  });
export type RouteTable = z.infer<typeof RouteTable>;

/** The PostgreSQL NOTIFY channel on which route and alias changes are announced (payload: model name). */
export const ROUTES_CHANNEL = 'sluice_routes';
