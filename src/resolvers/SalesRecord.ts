import type { SalesRecordResolvers, SalesRecordType } from '../generated/resolvers-types.js';
import { RELATIONS, SalesRecordEntity } from '../mapping/entities.js';
import { deriveResolvers } from './derive.js';

const TYPES: Record<string, SalesRecordType> = { R: 'INVOICE', A: 'ORDER', L: 'DELIVERY_NOTE', G: 'CREDIT_NOTE' };

export const SalesRecord = {
  ...deriveResolvers(SalesRecordEntity, RELATIONS.SalesRecord),
  type: (record) => TYPES[(record.typeCode ?? '').trim().toUpperCase()] ?? 'OTHER',
} satisfies SalesRecordResolvers;
