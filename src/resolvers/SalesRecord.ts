import type { SalesRecordResolvers } from '../generated/resolvers-types.js';
import { RELATIONS, SalesRecordEntity } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

// `type` is a derived field of the definition (from `Papierart`).
export const SalesRecord = {
  ...deriveResolvers(SalesRecordEntity, RELATIONS.SalesRecord),
} satisfies SalesRecordResolvers;
