import { CUSTOM_SEARCH_ATTRIBUTES } from '../../pipelines/search-attributes';

/** How the Temporal CLI and `temporal operator search-attribute create` name a search attribute's type. */
const CLI_TYPE = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' } as const;

/** Sluice's custom search attributes (pipelines/search-attributes.ts), registered on the dev server and in compose. */
export const SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(CUSTOM_SEARCH_ATTRIBUTES.map((k) => [k.name, CLI_TYPE[k.type]]));
