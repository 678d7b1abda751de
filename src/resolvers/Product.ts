import type { ProductResolvers } from '../generated/resolvers-types.js';
import { ProductEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

// retailPrice and wholesalePrice are derived fields of the definition (read from `Preise`).
export const Product = {
  ...deriveResolvers(ProductEntity, RELATIONS.Product),
} satisfies ProductResolvers;
