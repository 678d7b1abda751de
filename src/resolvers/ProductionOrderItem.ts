import type { ProductionOrderItemResolvers } from '../generated/resolvers-types.js';
import { ProductionOrderItemEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const ProductionOrderItem = {
  ...deriveResolvers(ProductionOrderItemEntity, RELATIONS.ProductionOrderItem),
} satisfies ProductionOrderItemResolvers;
