import type { MoldResolvers } from '../generated/resolvers-types.js';
import { MoldEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const Mold = {
  ...deriveResolvers(MoldEntity, RELATIONS.Mold),
} satisfies MoldResolvers;
