import type { MutationResolvers } from '../generated/resolvers-types.js';
import {
  AddressEntity,
  CustomerEntity,
  ProductEntity,
  ProductFamilyEntity,
  ProductionOrderEntity,
  ProductionOrderItemEntity,
} from '../mapping/entities.js';

export const Mutation = {
  updateProduct: async (_root, { id, expectedStamp, input }, { data }) => ({
    product: await data.update(ProductEntity, id, expectedStamp, input),
  }),
  bulkUpdateProducts: async (_root, { items }, { data }) => ({
    products: await data.bulkUpdate(ProductEntity, items),
  }),
  updateProductFamily: async (_root, { id, expectedStamp, input }, { data }) => ({
    productFamily: await data.update(ProductFamilyEntity, id, expectedStamp, input),
  }),
  updateCustomer: async (_root, { id, expectedStamp, input }, { data }) => ({
    customer: await data.update(CustomerEntity, id, expectedStamp, input),
  }),
  updateAddress: async (_root, { id, expectedStamp, input }, { data }) => ({
    address: await data.update(AddressEntity, id, expectedStamp, input),
  }),
  updateProductionOrder: async (_root, { id, expectedStamp, input }, { data }) => ({
    productionOrder: await data.update(ProductionOrderEntity, id, expectedStamp, input),
  }),
  updateProductionOrderItem: async (_root, { id, expectedStamp, input }, { data }) => ({
    productionOrderItem: await data.update(ProductionOrderItemEntity, id, expectedStamp, input),
  }),
  setLegacyField: (_root, { table, key, field, value, expectedStamp }, { data }) =>
    data.setLegacyField(table, key, field, value, expectedStamp),
} satisfies MutationResolvers;
