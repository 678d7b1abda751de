import type { CustomerResolvers } from '../generated/resolvers-types.js';
import { connectionFromList, pageArgs } from '../mapping/data.js';
import { CustomerEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const Customer = {
  ...deriveResolvers(CustomerEntity, RELATIONS.Customer),
  // All of a batch's sales records come in one request, newest first; each customer gets its page.
  salesRecords: async (customer, { first, after }, { data }) => {
    const page = pageArgs('SalesRecord', { first, after }, data.maxPageSize); // bad paging fails before any request
    return connectionFromList('SalesRecord', await data.hasMany(RELATIONS.Customer.salesRecords, customer), page);
  },
} satisfies CustomerResolvers;
