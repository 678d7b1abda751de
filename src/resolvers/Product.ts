import type { ProductResolvers } from '../generated/resolvers-types.js';
import { ProductEntity, ProductFamilyEntity } from '../mapping/entities.js';

export const Product: ProductResolvers = {
  __resolveReference: (reference, { loaders }) =>
    'id' in reference && reference.id
      ? loaders.byKey(ProductEntity, 'id').load(reference.id)
      : loaders.byKey(ProductEntity, 'sku').load((reference as { sku: string }).sku),
  family: (product, _args, { loaders }) =>
    product.familyKey ? loaders.byKey(ProductFamilyEntity, 'id').load(product.familyKey) : null,
};
