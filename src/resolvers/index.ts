import type { Resolvers } from '../generated/resolvers-types.js';
import { Product } from './Product.js';
import { ProductFamily } from './ProductFamily.js';
import { Query } from './Query.js';
import { DateScalar, DateTimeScalar } from './scalars.js';

/** All resolvers, assembled by type name (one file per type). */
export const resolvers = {
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query,
  Product,
  ProductFamily,
} satisfies Resolvers;
