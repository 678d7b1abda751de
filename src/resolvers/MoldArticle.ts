import type { MoldArticleResolvers } from '../generated/resolvers-types.js';
import { MoldArticleEntity, RELATIONS } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

export const MoldArticle = {
  ...deriveResolvers(MoldArticleEntity, RELATIONS.MoldArticle),
} satisfies MoldArticleResolvers;
