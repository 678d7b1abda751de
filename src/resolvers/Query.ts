import type { QueryResolvers } from '../generated/resolvers-types.js';
import {
  AddressEntity,
  CustomerEntity,
  MoldArticleEntity,
  MoldEntity,
  ProductEntity,
  ProductFamilyEntity,
  ProductionOrderEntity,
  ProductionOrderItemEntity,
  SalesRecordEntity,
  SalesRecordItemEntity,
} from '../mapping/entities.js';

export const Query = {
  legacyReady: (_root, _args, { upstreamReady }) => upstreamReady(),

  product: (_root, { id }, { data }) => data.byKey(ProductEntity, 'id', id),
  productBySku: (_root, { sku }, { data }) => data.byKey(ProductEntity, 'sku', sku),
  products: (_root, args, { data }) => data.list(ProductEntity, args),
  productFamily: (_root, { id }, { data }) => data.byKey(ProductFamilyEntity, 'id', id),
  productFamilyBySku: (_root, { sku }, { data }) => data.byKey(ProductFamilyEntity, 'sku', sku),
  productFamilies: (_root, args, { data }) => data.list(ProductFamilyEntity, args),

  customer: (_root, { id }, { data }) => data.byKey(CustomerEntity, 'id', id),
  customerByNumber: (_root, { customerNumber }, { data }) => data.byKey(CustomerEntity, 'customerNumber', customerNumber),
  customers: (_root, args, { data }) => data.list(CustomerEntity, args),
  address: (_root, { id }, { data }) => data.byKey(AddressEntity, 'id', id),

  salesRecord: (_root, { id }, { data }) => data.byKey(SalesRecordEntity, 'id', id),
  salesRecordByNumber: (_root, { number }, { data }) => data.byKey(SalesRecordEntity, 'number', number),
  salesRecords: (_root, args, { data }) => data.list(SalesRecordEntity, args),
  salesRecordItem: (_root, { id }, { data }) => data.byKey(SalesRecordItemEntity, 'id', id),

  mold: (_root, { id }, { data }) => data.byKey(MoldEntity, 'id', id),
  moldByNumber: (_root, { number }, { data }) => data.byKey(MoldEntity, 'number', number),
  molds: (_root, args, { data }) => data.list(MoldEntity, args),
  moldArticle: (_root, { id }, { data }) => data.byKey(MoldArticleEntity, 'id', id),
  productionOrder: (_root, { id }, { data }) => data.byKey(ProductionOrderEntity, 'id', id),
  productionOrderByNumber: (_root, { number }, { data }) => data.byKey(ProductionOrderEntity, 'number', number),
  productionOrders: (_root, args, { data }) => data.list(ProductionOrderEntity, args),
  productionOrderItem: (_root, { id }, { data }) => data.byKey(ProductionOrderItemEntity, 'id', id),
} satisfies QueryResolvers;
