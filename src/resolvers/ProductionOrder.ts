import type { ProductionOrderResolvers } from '../generated/resolvers-types.js';
import { ProductionOrderEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const ProductionOrder = {
  ...deriveResolvers(ProductionOrderEntity, RELATIONS.ProductionOrder),
} satisfies ProductionOrderResolvers;
