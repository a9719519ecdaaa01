/**
 * The IoT Hub query language over twins (`POST /devices/query`): `parseQuery` turns the text into a `Query` tree,
 * `runQuery` runs that tree over twin documents in memory.
 */
export type { Collection, Expression, PathExpression, PathSegment, Primitive, Projection, Query } from './ast.js';
export { isAggregate } from './ast.js';
export { evaluate, runQuery, type QueryResult } from './evaluate.js';
export { MAX_QUERY_LENGTH, QuerySyntaxError } from './lexer.js';
export { DEFAULT_COUNT_NAME, parseQuery } from './parser.js';
