/**
 * The entity definitions: one per GraphQL entity, each naming its legacy table and attributes.
 * Adding a table means adding a definition here and its SDL in `schema/`.
 */
import { defineEntity, type EntityModel } from './entity.js';
import { field, text } from './fields.js';

export const ProductFamilyEntity = defineEntity({
  typename: 'ProductFamily',
  table: 'Artikel_Familie',
  fields: {
    sku: field('Nummer', text),
    name: field('Bezeichnung', text, { writable: true }),
  },
  alternateKeys: ['sku'],
});

export const ProductEntity = defineEntity({
  typename: 'Product',
  table: 'Artikel_Variante',
  fields: {
    sku: field('Nummer', text),
    name: field('Bezeichnung', text, { writable: true }),
    /** `__KEY` of the family (`Familie_`); resolved by `Product.family`. */
    familyKey: field('Familie_', text),
  },
  alternateKeys: ['sku'],
});

/** Entity model types, used as codegen mappers. */
export type ProductFamily = EntityModel<typeof ProductFamilyEntity>;
export type Product = EntityModel<typeof ProductEntity>;
