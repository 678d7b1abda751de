import type { ProductFamilyResolvers } from '../generated/resolvers-types.js';
import { ProductFamilyEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const ProductFamily = {
  ...deriveResolvers(ProductFamilyEntity, RELATIONS.ProductFamily),
} satisfies ProductFamilyResolvers;
