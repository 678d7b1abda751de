/**
 * Loads the SDL from `schema/` relative to this module (never the working directory), in a fixed
 * order: the file with the `@link` first, then one file per domain. A test checks this list
 * against the folder, so a new file cannot be forgotten.
 */
import { readFileSync } from 'node:fs';
import { parse, type DocumentNode } from 'graphql';

export const SCHEMA_FILES = ['schema.graphql', 'products.graphql', 'customers.graphql', 'sales.graphql', 'production.graphql'] as const;

const schemaDir = new URL('../schema/', import.meta.url);

/** The subgraph's type definitions, parsed. */
export function loadTypeDefs(): DocumentNode {
  const sdl = SCHEMA_FILES.map((file) => readFileSync(new URL(file, schemaDir), 'utf8')).join('\n');
  return parse(sdl);
}
