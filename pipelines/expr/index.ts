/** The expression language: the JSON AST, its type check and the builder authors write. */
export * from './ast';
export * from './builder';
export * from './check';
