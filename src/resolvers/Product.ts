import type { ProductResolvers } from '../generated/resolvers-types.js';
import { ProductEntity, RELATIONS } from '../mapping/entities.js';
import { readPrice } from '../mapping/prices.js';
import { deriveResolvers } from './derive.js';

export const Product = {
  ...deriveResolvers(ProductEntity, RELATIONS.Product),
  retailPrice: (product) => readPrice(product.prices, 'Laden'),
  wholesalePrice: (product) => readPrice(product.prices, 'Handel'),
} satisfies ProductResolvers;
