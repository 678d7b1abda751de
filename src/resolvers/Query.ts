import type { QueryResolvers } from '../generated/resolvers-types.js';
import { ProductEntity, ProductFamilyEntity } from '../mapping/entities.js';

export const Query: QueryResolvers = {
  legacyReady: (_root, _args, { upstreamReady }) => upstreamReady(),
  product: (_root, { id }, { loaders }) => loaders.byKey(ProductEntity, 'id').load(id),
  productBySku: (_root, { sku }, { loaders }) => loaders.byKey(ProductEntity, 'sku').load(sku),
  productFamily: (_root, { id }, { loaders }) => loaders.byKey(ProductFamilyEntity, 'id').load(id),
};
