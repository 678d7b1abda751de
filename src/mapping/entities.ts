/**
 * The entity definitions: one per GraphQL entity, naming its legacy table and attributes, and the
 * relations between them. Adding a table means a definition here, its SDL in `schema/`, and a
 * resolver file that derives its resolvers from the definition.
 */
import { defineEntity, type EntityModel } from './entity.js';
import { bool, date, field, money, number, object, text } from './fields.js';
import { belongsTo, hasMany } from './relations.js';
import { readPrice, setPrice } from './prices.js';

const w = { writable: true } as const;
const f = { filterable: true } as const;
const wf = { writable: true, filterable: true } as const;

export const ProductFamilyEntity = defineEntity({
  typename: 'ProductFamily',
  table: 'Artikel_Familie',
  fields: {
    sku: field('Nummer', text, f),
    name: field('Bezeichnung', text, wf),
    nameEn: field('Bezeichnung_ENG', text, wf),
    description: field('Beschreibung', text, w),
    descriptionEn: field('Beschreibung_ENG', text, w),
    shortDescription: field('Beschreibung_kurz', text, w),
    weightGrams: field('Gewicht', number, wf),
    category: field('ArtGr', text, wf),
    hanging: field('Haengend', bool),
    oneSided: field('Einseitig', bool),
    isNew: field('Neu', bool, wf),
    releaseDate: field('Release_date', date, wf),
    active: field('aktiv', bool, wf),
  },
  alternateKeys: ['sku'],
  orderFields: { SKU: 'sku', NAME: 'name', RELEASE_DATE: 'releaseDate' },
  defaultOrder: ['sku'],
});

export const ProductEntity = defineEntity({
  typename: 'Product',
  table: 'Artikel_Variante',
  fields: {
    sku: field('Nummer', text, f),
    oldSku: field('alteNummer', text, f),
    name: field('Bezeichnung', text, wf),
    nameEn: field('Bezeichnung_ENG', text, wf),
    description: field('Beschreibung', text, w),
    weightGrams: field('Gewicht', number, wf),
    /** `__KEY` of the family (`Familie_`); resolved by `Product.family`, filterable as `familyId`. */
    familyId: field('Familie_', text, f),
    variantCode: field('ArtikelArt', text, f),
    color: field('Farbe', text, wf),
    size: field('Groesse', text, wf),
    forSale: field('Verkaufsartikel', bool, wf),
    releaseDate: field('Release_date', date, wf),
    discontinuedOn: field('Auslaufdatum', date, wf),
    active: field('Aktiv', bool, wf),
    /** The raw `Preise` object; `retailPrice` and `wholesalePrice` are read from it. */
    prices: field('Preise', object),
  },
  alternateKeys: ['sku'],
  orderFields: { SKU: 'sku', NAME: 'name', WEIGHT: 'weightGrams', RELEASE_DATE: 'releaseDate' },
  defaultOrder: ['sku'],
  virtualInputs: {
    retailPrice: { attribute: 'Preise', apply: (current, value) => setPrice(current, 'Laden', value) },
    wholesalePrice: { attribute: 'Preise', apply: (current, value) => setPrice(current, 'Handel', value) },
  },
  derived: {
    retailPrice: (product: { prices: unknown }) => readPrice(product.prices, 'Laden'),
    wholesalePrice: (product: { prices: unknown }) => readPrice(product.prices, 'Handel'),
  },
  internal: ['prices', 'familyId'],
});

export const CustomerEntity = defineEntity({
  typename: 'Customer',
  table: 'Kunden',
  fields: {
    customerNumber: field('KundenNr', text, f),
    addressNumber: field('AdrNr', text),
    group: field('Kundengr', text, wf),
    deliveryBlocked: field('Liefersperre', bool, wf),
    priceGroup: field('Preisgru', text, wf),
    vatId: field('USt_IdNr', text, wf),
    paymentMethod: field('Zahlungsart', text, wf),
    shippingMethod: field('Versandart', text, wf),
    creditLimit: field('Kreditlimit', money, wf),
    discountPercent: field('Rabatt', number, wf),
    cashDiscountDays: field('SkontoTage', number, w),
    netPaymentDays: field('NettoTage', number, w),
  },
  alternateKeys: ['customerNumber'],
  orderFields: { CUSTOMER_NUMBER: 'customerNumber', GROUP: 'group', CREDIT_LIMIT: 'creditLimit' },
  defaultOrder: ['customerNumber'],
});

export const AddressEntity = defineEntity({
  typename: 'Address',
  table: 'Adressen',
  fields: {
    addressNumber: field('AdrNr', text),
    customerNumber: field('KundenNr', text),
    company: field('Firma', text, w),
    street: field('Strasse', text, w),
    postalCode: field('PLZ', text, w),
    city: field('Ort', text, w),
    country: field('Land', text, w),
    phone: field('Telefon', text, w),
    email: field('Email', text, w),
    isDeliveryAddress: field('IstLieferadresse', bool, w),
    isBillingAddress: field('IstRechnungsadresse', bool, w),
    isPrimary: field('IstHauptadresse', bool, w),
  },
  defaultOrder: ['addressNumber'],
});

/** `Papierart` codes → the `SalesRecordType` enum; any other code is `OTHER`. */
const SALES_RECORD_TYPES: Record<string, string> = { R: 'INVOICE', A: 'ORDER', L: 'DELIVERY_NOTE', G: 'CREDIT_NOTE' };

export const SalesRecordEntity = defineEntity({
  typename: 'SalesRecord',
  table: 'Belege',
  fields: {
    number: field('AbsNr', number, f),
    paperNumber: field('PapierNr', text, f),
    date: field('Datum', date, f),
    typeCode: field('Papierart', text, f),
    customerNumber: field('KundenNr', text, f),
    netAmount: field('Netto', money, f),
    vatAmount: field('MWST_EUR', money),
    freightCost: field('Frachtkosten', money),
    handlingCost: field('Bearbeitungskos', money),
    totalAmount: field('Endbetrag', money, f),
    paid: field('bezahlt', bool, f),
    paymentDate: field('ZahlungsDat', date, f),
    currency: field('Währung', text, f),
    vatType: field('MWSt_Art', text),
    text: field('Text', text, f),
  },
  alternateKeys: ['number'],
  orderFields: { NUMBER: 'number', DATE: 'date', TOTAL_AMOUNT: 'totalAmount' },
  defaultOrder: ['number'],
  derived: {
    type: (record: { typeCode: string | null }) => SALES_RECORD_TYPES[(record.typeCode ?? '').trim().toUpperCase()] ?? 'OTHER',
  },
});

export const SalesRecordItemEntity = defineEntity({
  typename: 'SalesRecordItem',
  table: 'Belege_Pos',
  fields: {
    salesRecordNumber: field('AbsNr', number),
    position: field('PosNr', number),
    sku: field('ArtNr', text),
    description: field('Bezeichnung', text),
    quantity: field('Menge', number),
    unitPrice: field('Preis', money),
    discountPercent: field('Rabatt', number),
    lineTotal: field('Pos_Betrag', money),
    itemType: field('Art', text),
    pickedQuantity: field('Pick_Menge', number),
  },
  defaultOrder: ['salesRecordNumber', 'position'],
});

export const MoldEntity = defineEntity({
  typename: 'Mold',
  table: 'Formen',
  fields: {
    number: field('FormNr', text, f),
    name: field('Bezeichnung', text, f),
    active: field('aktiv', bool, f),
  },
  alternateKeys: ['number'],
  orderFields: { NUMBER: 'number', NAME: 'name' },
  defaultOrder: ['number'],
});

export const MoldArticleEntity = defineEntity({
  typename: 'MoldArticle',
  table: 'Form_Artikel',
  fields: {
    moldNumber: field('FormNr', text),
    sku: field('ArtNr', text),
    cavities: field('Anzahl', number),
  },
  defaultOrder: ['moldNumber', 'sku'],
});

export const ProductionOrderEntity = defineEntity({
  typename: 'ProductionOrder',
  table: 'Werksauftraege',
  fields: {
    number: field('WerkAufNr', text, f),
    moldNumber: field('Form_Nr', text, f),
    quantity: field('Stückzahl', number, wf),
    status: field('Status', text, wf),
    createdOn: field('eingestellt', date, f),
    dueDate: field('Termin', date, wf),
    priority: field('Prio', number, wf),
    uuid: field('UUID', text),
  },
  alternateKeys: ['number'],
  orderFields: { NUMBER: 'number', DUE_DATE: 'dueDate', CREATED_ON: 'createdOn', PRIORITY: 'priority' },
  defaultOrder: ['number'],
});

export const ProductionOrderItemEntity = defineEntity({
  typename: 'ProductionOrderItem',
  table: 'WerksauftrPos',
  fields: {
    orderNumber: field('W_Auftr_Nr', text),
    position: field('WAP_Nr', number),
    operation: field('Arbeitsgang', text),
    targetQuantity: field('St_Soll', number, w),
    doneQuantity: field('St_Haben', number, w),
    remainingQuantity: field('St_Rest', number, w),
    startDate: field('Datum_begin', date, w),
    status: field('Status', text, w),
    sku: field('Art_Nr', text),
    share: field('Anteil', number),
    time: field('Zeit', number),
    piecesPerHour: field('St_Std', number),
    value: field('Wert', number),
    uuid: field('UUID', text),
  },
  defaultOrder: ['orderNumber', 'position'],
});

/** Every entity, by GraphQL type name. */
export const ENTITIES = {
  ProductFamily: ProductFamilyEntity,
  Product: ProductEntity,
  Customer: CustomerEntity,
  Address: AddressEntity,
  SalesRecord: SalesRecordEntity,
  SalesRecordItem: SalesRecordItemEntity,
  Mold: MoldEntity,
  MoldArticle: MoldArticleEntity,
  ProductionOrder: ProductionOrderEntity,
  ProductionOrderItem: ProductionOrderItemEntity,
} as const;

/** The relations of `legacy-tables.md`, each resolved in batches (one request per level). */
export const RELATIONS = {
  Product: { family: belongsTo(ProductFamilyEntity, 'familyId', 'id') },
  ProductFamily: { variants: hasMany(ProductEntity, 'id', 'familyId', [['sku', 'asc']]) },
  Customer: {
    addresses: hasMany(AddressEntity, 'customerNumber', 'customerNumber', [['isPrimary', 'desc'], ['addressNumber', 'asc']]),
    salesRecords: hasMany(SalesRecordEntity, 'customerNumber', 'customerNumber', [['date', 'desc'], ['number', 'desc']]),
  },
  SalesRecord: {
    customer: belongsTo(CustomerEntity, 'customerNumber', 'customerNumber'),
    items: hasMany(SalesRecordItemEntity, 'number', 'salesRecordNumber', [['position', 'asc']]),
  },
  SalesRecordItem: { product: belongsTo(ProductEntity, 'sku', 'sku') },
  Mold: { articles: hasMany(MoldArticleEntity, 'number', 'moldNumber', [['sku', 'asc']]) },
  MoldArticle: { product: belongsTo(ProductEntity, 'sku', 'sku') },
  ProductionOrder: {
    mold: belongsTo(MoldEntity, 'moldNumber', 'number'),
    items: hasMany(ProductionOrderItemEntity, 'number', 'orderNumber', [['position', 'asc']]),
  },
  ProductionOrderItem: { product: belongsTo(ProductEntity, 'sku', 'sku') },
} as const;

/** Entity model types, used as codegen mappers. */
export type ProductFamily = EntityModel<typeof ProductFamilyEntity>;
export type Product = EntityModel<typeof ProductEntity>;
export type Customer = EntityModel<typeof CustomerEntity>;
export type Address = EntityModel<typeof AddressEntity>;
export type SalesRecord = EntityModel<typeof SalesRecordEntity>;
export type SalesRecordItem = EntityModel<typeof SalesRecordItemEntity>;
export type Mold = EntityModel<typeof MoldEntity>;
export type MoldArticle = EntityModel<typeof MoldArticleEntity>;
export type ProductionOrder = EntityModel<typeof ProductionOrderEntity>;
export type ProductionOrderItem = EntityModel<typeof ProductionOrderItemEntity>;
