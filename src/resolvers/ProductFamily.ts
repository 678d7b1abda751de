import type { ProductFamilyResolvers } from '../generated/resolvers-types.js';
import { ProductFamilyEntity } from '../mapping/entities.js';

export const ProductFamily: ProductFamilyResolvers = {
  __resolveReference: (reference, { loaders }) =>
    'id' in reference && reference.id
      ? loaders.byKey(ProductFamilyEntity, 'id').load(reference.id)
      : loaders.byKey(ProductFamilyEntity, 'sku').load((reference as { sku: string }).sku),
};
