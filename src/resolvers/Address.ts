import type { AddressResolvers } from '../generated/resolvers-types.js';
import { AddressEntity } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const Address = {
  ...deriveResolvers(AddressEntity),
} satisfies AddressResolvers;
