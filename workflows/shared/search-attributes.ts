import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys for Sluice's search attributes (registered by infra/stack/search-attributes.ts). */
export const PipelineName = defineSearchAttributeKey('PipelineName', SearchAttributeType.KEYWORD);
export const PipelineVersion = defineSearchAttributeKey('PipelineVersion', SearchAttributeType.KEYWORD);
export const ModelName = defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD);

/** Set by Temporal on runs a schedule starts (and on backfills): the time the run was meant for. */
export const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
export const TemporalScheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
