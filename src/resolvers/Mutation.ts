import type { MutationResolvers } from '../generated/resolvers-types.js';
import { PurgeInputError } from '../cache/index.js';
import { ForbiddenError, InputError } from '../mapping/errors.js';
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
  purgeCache: async (_root, { tags, tables, all }, { cache, operator, logger }) => {
    if (!operator) throw new ForbiddenError('purgeCache is for operators: send the x-operator-token header with the configured OPERATOR_TOKEN');
    if (!cache) throw new InputError('this subgraph runs without a cache (CACHE=off): nothing to purge');
    try {
      return await cache.purge({ tags: tags ?? undefined, tables: tables ?? undefined, all: all ?? false }, 'graphql');
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'purgeCache failed');
      if (error instanceof PurgeInputError) throw new InputError(`purgeCache: ${error.message}`);
      throw error;
    }
  },
} satisfies MutationResolvers;
