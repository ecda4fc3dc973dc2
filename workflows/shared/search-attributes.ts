import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys for Sluice's search attributes (registered by infra/stack/search-attributes.ts). */
export const PipelineName = defineSearchAttributeKey('PipelineName', SearchAttributeType.KEYWORD);
export const PipelineVersion = defineSearchAttributeKey('PipelineVersion', SearchAttributeType.KEYWORD);
export const ModelName = defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD);
