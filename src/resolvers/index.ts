import type { Resolvers } from '../generated/resolvers-types.js';
import { Address } from './Address.js';
import { Customer } from './Customer.js';
import { Mold } from './Mold.js';
import { MoldArticle } from './MoldArticle.js';
import { Mutation } from './Mutation.js';
import { Product } from './Product.js';
import { ProductFamily } from './ProductFamily.js';
import { ProductionOrder } from './ProductionOrder.js';
import { ProductionOrderItem } from './ProductionOrderItem.js';
import { Query } from './Query.js';
import { SalesRecord } from './SalesRecord.js';
import { SalesRecordItem } from './SalesRecordItem.js';
import { DateScalar, DateTimeScalar, DecimalScalar, JSONScalar } from './scalars.js';

/** All resolvers, assembled by type name (one file per type). */
export const resolvers = {
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Decimal: DecimalScalar,
  JSON: JSONScalar,
  Query,
  Mutation,
  Product,
  ProductFamily,
  Customer,
  Address,
  SalesRecord,
  SalesRecordItem,
  Mold,
  MoldArticle,
  ProductionOrder,
  ProductionOrderItem,
} satisfies Resolvers;
