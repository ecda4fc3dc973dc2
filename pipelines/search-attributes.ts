import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Typed keys for Sluice's search attributes: a contract between the workflows that set them and
 * the clients that list runs by them (CLI, schedules, the Temporal UI's filters).
 */
export const PipelineName = defineSearchAttributeKey('PipelineName', SearchAttributeType.KEYWORD);
export const PipelineVersion = defineSearchAttributeKey('PipelineVersion', SearchAttributeType.KEYWORD);
export const ModelName = defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD);

/** Sluice's own, which a Temporal server must know before a workflow sets them (infra/stack registers them). */
export const CUSTOM_SEARCH_ATTRIBUTES = [PipelineName, PipelineVersion, ModelName] as const;

/** Set by Temporal on runs a schedule starts (and on backfills): the time the run was meant for. */
export const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
export const TemporalScheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
