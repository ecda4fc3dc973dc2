/** Sluice's custom search attributes, registered on the dev server and in compose. */
export const SEARCH_ATTRIBUTES = {
  PipelineName: 'Keyword',
  PipelineVersion: 'Keyword',
  ModelName: 'Keyword',
} as const;
