/**
 * The legacy WSZ-DB tables (4D dataclasses) this project knows, with their exact, case-sensitive
 * attribute names and 4D storage types. This is the contract with the real system
 * (see `shared/legacy-tables.md`): the client validates filters and updates against it, the emulator
 * generates its data from it, and the GraphQL mapping refers to it.
 *
 * No GraphQL here: this module belongs to the legacy client.
 */

/** 4D storage types as `$catalog` reports them (the subset the WSZ tables use). */
export type AttributeType = 'string' | 'long' | 'number' | 'bool' | 'date' | 'object';

export interface AttributeDef {
  /** Exact, case-sensitive 4D attribute name. */
  readonly name: string;
  readonly type: AttributeType;
  /** `true` when the attribute is indexed on the server (emulator metadata only). */
  readonly indexed?: boolean;
}

export interface TableDef {
  /** Exact 4D dataclass name. */
  readonly name: string;
  /** 4D table number, as `$catalog` shows it (emulator metadata). */
  readonly tableNumber: number;
  readonly attributes: readonly AttributeDef[];
}

/** System attributes every entity carries: `__KEY` (32-hex UUID string), `__STAMP`, `__TIMESTAMP`. */
export const SYSTEM_ATTRIBUTES = ['__KEY', '__STAMP', '__TIMESTAMP'] as const;

const s = (name: string, indexed = false): AttributeDef => ({ name, type: 'string', indexed });
const n = (name: string): AttributeDef => ({ name, type: 'number' });
const l = (name: string, indexed = false): AttributeDef => ({ name, type: 'long', indexed });
const b = (name: string): AttributeDef => ({ name, type: 'bool' });
const d = (name: string): AttributeDef => ({ name, type: 'date' });
const o = (name: string): AttributeDef => ({ name, type: 'object' });

/** Every table of `legacy-tables.md`, in that order. */
export const TABLES: readonly TableDef[] = [
  {
    name: 'Artikel_Familie',
    tableNumber: 11,
    attributes: [
      s('Nummer', true), s('Bezeichnung'), s('Bezeichnung_ENG'), s('Beschreibung'), s('Beschreibung_ENG'),
      s('Beschreibung_kurz'), n('Gewicht'), s('ArtGr'), b('Haengend'), b('Einseitig'), b('Neu'),
      d('Release_date'), b('aktiv'),
    ],
  },
  {
    name: 'Artikel_Variante',
    tableNumber: 12,
    attributes: [
      s('Nummer', true), s('alteNummer'), s('Bezeichnung'), s('Bezeichnung_ENG'), s('Beschreibung'), n('Gewicht'),
      s('Familie_', true), s('ArtikelArt'), s('Farbe'), s('Groesse'), b('Verkaufsartikel'), d('Release_date'),
      d('Auslaufdatum'), b('Aktiv'), o('Preise'),
    ],
  },
  {
    name: 'Kunden',
    tableNumber: 3,
    attributes: [
      s('KundenNr', true), s('AdrNr'), s('Kundengr'), b('Liefersperre'), s('Preisgru'), s('USt_IdNr'),
      s('Zahlungsart'), s('Versandart'), n('Kreditlimit'), n('Rabatt'), l('SkontoTage'), l('NettoTage'),
    ],
  },
  {
    name: 'Adressen',
    tableNumber: 4,
    attributes: [
      s('AdrNr', true), s('KundenNr', true), s('Firma'), s('Strasse'), s('PLZ'), s('Ort'), s('Land'), s('Telefon'),
      s('Email'), b('IstLieferadresse'), b('IstRechnungsadresse'), b('IstHauptadresse'),
    ],
  },
  {
    name: 'Belege',
    tableNumber: 20,
    attributes: [
      l('AbsNr', true), s('PapierNr'), d('Datum'), s('Papierart'), s('KundenNr', true), n('Netto'), n('MWST_EUR'),
      n('Frachtkosten'), n('Bearbeitungskos'), n('Endbetrag'), b('bezahlt'), d('ZahlungsDat'), s('Währung'),
      s('MWSt_Art'), s('Text'),
    ],
  },
  {
    name: 'Belege_Pos',
    tableNumber: 21,
    attributes: [
      l('AbsNr', true), l('PosNr'), s('ArtNr', true), s('Bezeichnung'), n('Menge'), n('Preis'), n('Rabatt'),
      n('Pos_Betrag'), s('Art'), n('Pick_Menge'),
    ],
  },
  {
    name: 'Formen',
    tableNumber: 30,
    attributes: [s('FormNr', true), s('Bezeichnung'), b('aktiv')],
  },
  {
    name: 'Form_Artikel',
    tableNumber: 31,
    attributes: [s('FormNr', true), s('ArtNr', true), l('Anzahl')],
  },
  {
    name: 'Werksauftraege',
    tableNumber: 40,
    attributes: [
      s('WerkAufNr', true), s('Form_Nr', true), n('Stückzahl'), s('Status'), d('eingestellt'), d('Termin'), l('Prio'),
      s('UUID'),
    ],
  },
  {
    name: 'WerksauftrPos',
    tableNumber: 41,
    attributes: [
      s('W_Auftr_Nr', true), l('WAP_Nr'), s('Arbeitsgang'), n('St_Soll'), n('St_Haben'), n('St_Rest'),
      d('Datum_begin'), s('Status'), s('Art_Nr', true), n('Anteil'), n('Zeit'), n('St_Std'), n('Wert'), s('UUID'),
    ],
  },
];

export type TableName =
  | 'Artikel_Familie'
  | 'Artikel_Variante'
  | 'Kunden'
  | 'Adressen'
  | 'Belege'
  | 'Belege_Pos'
  | 'Formen'
  | 'Form_Artikel'
  | 'Werksauftraege'
  | 'WerksauftrPos';

/**
 * 4D's table of deletions under data change tracking (protocol reference §11): one row per deleted
 * record of a tracked table. Known to the client (the change watcher reads it), never mapped.
 */
export const DELETED_RECORDS: TableDef = {
  name: '__DeletedRecords',
  tableNumber: 0,
  attributes: [
    { name: '__PrimaryKey', type: 'string' },
    { name: '__TableName', type: 'string' },
    { name: '__TableNumber', type: 'long' },
    { name: '__Stamp', type: 'number' },
  ],
};

/** The datastore-wide change counter each record of a tracked table carries (§11). */
export const GLOBAL_STAMP = '__GlobalStamp';

const byName = new Map([...TABLES, DELETED_RECORDS].map((t) => [t.name, t]));

/** Names of every known table, for error messages and the command line. */
export const TABLE_NAMES: readonly string[] = TABLES.map((t) => t.name);

/** Looks a table up by its exact name; `undefined` when it is not one of ours. */
export function findTable(name: string): TableDef | undefined {
  return byName.get(name);
}

/**
 * Returns the attribute definition, or `undefined`. System attributes (`__KEY`, `__STAMP`,
 * `__TIMESTAMP`) are reported as `string`/`long`/`string` attributes.
 */
export function findAttribute(table: TableDef, name: string): AttributeDef | undefined {
  if (name === '__KEY' || name === '__TIMESTAMP') return { name, type: 'string' };
  if (name === '__STAMP') return { name, type: 'long' };
  if (name === GLOBAL_STAMP && table !== DELETED_RECORDS) return { name, type: 'number' };
  return table.attributes.find((a) => a.name === name);
}
