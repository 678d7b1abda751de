import type { SalesRecordItemResolvers } from '../generated/resolvers-types.js';
import { SalesRecordItemEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const SalesRecordItem = {
  ...deriveResolvers(SalesRecordItemEntity, RELATIONS.SalesRecordItem),
} satisfies SalesRecordItemResolvers;
