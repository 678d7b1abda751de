/**
 * Deterministic, WSZ-shaped demo data for the emulator: pewter figures and model-railway items
 * (families → variants), customers with addresses, sales records with items, molds and production
 * orders. Same seed + scale → identical database (a seeded PRNG, never `Math.random` nor the clock).
 *
 * On purpose the data is hostile to naive clients: quotes, umlauts/ß, `@ & # % +`, the filter
 * keywords AND/OR/NOT/begin/null as words (always on the first rows, so even tiny scales have them),
 * about 5 % empty dates (`"0!0!0"`) and a few `null`s, and about 2 % dangling references in every
 * relation (rows `i` with `i % 50 === offset`).
 */
import { TABLES, type TableName } from '../../legacy/tables.js';
import { Random, mixSeed } from './random.js';
import { EmulatorDatabase, type EmulatorTable } from './store.js';
import { dayNumber, dayToWire, round2 } from './values.js';

/** Default scale: 1 % of production, a few thousand rows, generated in well under 200 ms. */
export const DEMO_SCALE = 0.01;

/** Every table has at least this many rows, whatever the scale. */
export const MIN_ROWS = 5;

/** Row counts of the production WSZ-DB (scale 1). */
export const PRODUCTION_SIZES: Readonly<Record<TableName, number>> = {
  Artikel_Familie: 2000,
  Artikel_Variante: 10000,
  Kunden: 8000,
  Adressen: 9000,
  Belege: 60000,
  Belege_Pos: 300000,
  Formen: 1500,
  Form_Artikel: 4000,
  Werksauftraege: 20000,
  WerksauftrPos: 80000,
};

/** Row count per table at `scale` (1 = production): `max(MIN_ROWS, round(production × scale))`. */
export function tableSizes(scale: number): Record<TableName, number> {
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`scale must be a positive number, got ${scale}`);
  const sizes = {} as Record<TableName, number>;
  for (const [name, size] of Object.entries(PRODUCTION_SIZES) as [TableName, number][]) {
    sizes[name] = Math.max(MIN_ROWS, Math.round(size * scale));
  }
  return sizes;
}

export interface GenerateOptions {
  /** Fraction of the production sizes; default {@link DEMO_SCALE}. */
  scale?: number;
  /** PRNG seed (32-bit integer); default 1. */
  seed?: number;
}

/**
 * Builds a fresh database with every table of the catalog filled with generated rows. Data change
 * tracking is on, but the generated rows predate it: their `__GlobalStamp` reads 0 and the global
 * stamp starts at 1, as in a 4D datastore whose tracking was just enabled.
 */
export function generateDatabase(opts: GenerateOptions = {}): EmulatorDatabase {
  const scale = opts.scale ?? DEMO_SCALE;
  const seed = opts.seed ?? 1;
  const sizes = tableSizes(scale);
  const db = new EmulatorDatabase(TABLES, { keySeed: seed, changeTracking: false });
  const g = new Generator(db, sizes, seed);
  g.families();
  g.variants();
  g.customersAndAddresses();
  g.salesRecords();
  g.salesRecordItems();
  g.molds();
  g.moldArticles();
  g.productionOrders();
  g.productionOrderItems();
  db.configureChangeTracking({ enabled: true });
  return db;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

/** Text that breaks naive filter building; spread over the first rows of every text-bearing table. */
const HOSTILE = [
  `O'Reilly "Spezial"`,
  'Müller & Söhne',
  'Größe XL an der Straße',
  'Bestellung an info@wsz-zinn.de',
  'Figur #12 mit Sockel',
  '100% Zinn',
  'Ross + Reiter',
  'Ross AND Reiter',
  'Sonne OR Mond',
  'NOT für Kinder unter 14 Jahren',
  'begin der Serie',
  'null Fehler',
  'Weiß & Blau @ Ostern',
  'Kölner Dom "groß"',
];

const HOSTILE_FIRMS = [
  `O'Reilly "Spezial" Modellbau`,
  'Müller & Söhne GmbH',
  'Größenwahn Spielwaren KG',
  'Zinn@Home e.K.',
  'Laden #1 am Markt',
  '100% Handwerk GmbH',
  'Spiel + Spaß OHG',
  'Hinz AND Kunz GbR',
  'Entweder OR Oder',
  'NOT Only Toys Ltd.',
  'begin Design',
  'null Acht Fünfzehn',
];

const SUBJECTS: readonly (readonly [string, string])[] = [
  ['Lokomotive BR 01', 'Locomotive BR 01'],
  ['Lokomotive BR 89', 'Locomotive BR 89'],
  ['Güterwagen', 'Freight car'],
  ['Personenwagen', 'Passenger coach'],
  ['Engel', 'Angel'],
  ['Weihnachtsmann', 'Santa Claus'],
  ['Osterhase', 'Easter bunny'],
  ['Schneemann', 'Snowman'],
  ['Stern', 'Star'],
  ['Krippenfigur Maria', 'Nativity figure Mary'],
  ['Krippenfigur Josef', 'Nativity figure Joseph'],
  ['Hirte', 'Shepherd'],
  ['Hirsch', 'Stag'],
  ['Eule', 'Owl'],
  ['Segelschiff', 'Sailing ship'],
  ['Kutsche', 'Carriage'],
  ['Grenadier', 'Grenadier'],
  ['Trommler', 'Drummer'],
  ['Nussknacker', 'Nutcracker'],
  ['Glocke', 'Bell'],
  ['Tannenbaum', 'Fir tree'],
  ['Rentier', 'Reindeer'],
  ['Marienkäfer', 'Ladybird'],
  ['Pferd', 'Horse'],
  ['Zwerg', 'Dwarf'],
  ['Windmühle', 'Windmill'],
  ['Fuchs', 'Fox'],
  ['Igel', 'Hedgehog'],
];

const DETAILS: readonly (readonly [string, string])[] = [
  ['mit Trompete', 'with trumpet'],
  ['mit Laterne', 'with lantern'],
  ['im Schnee', 'in the snow'],
  ['mit Geschenken', 'with presents'],
  ['stehend', 'standing'],
  ['sitzend', 'sitting'],
  ['klein', 'small'],
  ['groß', 'large'],
  ['mit Sockel', 'on a base'],
  ['Anhänger', 'pendant'],
  ['mit Harfe', 'with harp'],
  ['auf Schlitten', 'on a sledge'],
  ['mit Fahne', 'with flag'],
  ['am Brunnen', 'at the well'],
];

/** Variant suffix code, German colour/finish, English colour/finish. */
const FINISHES: readonly (readonly [string, string, string])[] = [
  ['BE', 'bemalt', 'painted'],
  ['BL', 'blank', 'plain'],
  ['SW', 'schwarz', 'black'],
  ['RT', 'rot', 'red'],
  ['GO', 'goldfarben', 'gold'],
  ['SI', 'silberfarben', 'silver'],
  ['GN', 'grün', 'green'],
  ['BR', 'braun', 'brown'],
  ['WS', 'weiß', 'white'],
  ['BU', 'bunt', 'multicoloured'],
  ['PA', 'patiniert', 'patinated'],
  ['AN', 'antik', 'antique'],
  ['MS', 'Messing', 'brass'],
  ['KU', 'kupferfarben', 'copper'],
  ['VG', 'vergoldet', 'gilded'],
];

const ART_GROUPS = ['WE', 'OS', 'EI', 'FI', 'BS', 'KR', 'TI'];
const SIZES = ['klein', 'mittel', 'groß', '54 mm', '30 mm', 'H0', '1:87', 'Spur 1'];
const LAST_NAMES = ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Köhler', 'Weiß', 'Groß', 'Bäcker', 'Jäger', 'Krüger', 'Schäfer', 'Huber', 'Öztürk', 'Lindström'];
const FIRST_NAMES = ['Anna', 'Jürgen', 'Sören', 'Maria', 'Klaus', 'Renée', 'Björn', 'Lena', 'Günther', 'Zoë'];
const FIRM_PATTERNS = ['{n} GmbH', 'Spielwaren {n}', 'Zinnfiguren {n} KG', '{n} & Co. KG', 'Museum {c}', 'Geschenkehaus {n}', '{f} {n}', 'Modellbau {n} e.K.'];
const STREETS = ['Hauptstraße', 'Bahnhofstraße', 'Am Großen Garten', 'Müllerstr.', 'Schloßallee', 'Kirchweg', 'Lindenstraße', 'Ammerseestraße', 'Königsplatz', 'Weißenburger Str.'];
const CITIES: readonly (readonly [string, string])[] = [
  ['München', '80331'], ['Köln', '50667'], ['Düsseldorf', '40213'], ['Göttingen', '37073'], ['Würzburg', '97070'],
  ['Lübeck', '23552'], ['Nürnberg', '90402'], ['Gießen', '35390'], ['Görlitz', '02826'], ['Dießen am Ammersee', '86911'],
  ['Berlin', '10115'], ['Hamburg', '20095'], ['Dresden', '01067'], ['Freiburg im Breisgau', '79098'], ['Straßburg', '67000'],
];
const COUNTRIES = ['DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'DE', 'AT', 'CH', 'NL', 'FR', 'US'];
const CUSTOMER_GROUPS = ['Einzelhandel', 'Großhandel', 'Museum', 'Privat', 'Export'];
const PRICE_GROUPS = ['L', 'H', 'E', 'S'];
const PAYMENT = ['Rechnung', 'Vorkasse', 'Lastschrift', 'PayPal', 'Nachnahme'];
const SHIPPING = ['DHL', 'DPD', 'Spedition', 'Abholung', 'Deutsche Post'];
const RECORD_TEXTS = ['', '', '', 'Lieferung frei Haus', 'Bitte Rückruf vor Lieferung', 'Messeauftrag Nürnberg', 'Teillieferung', 'Zahlung per Überweisung', 'Ersatz für Bruch'];
const OPERATIONS = ['Gießen', 'Entgraten', 'Löten', 'Bemalen', 'Lackieren', 'Gravieren', 'Qualitätskontrolle', 'Verpacken'];
const ORDER_STATES = ['offen', 'in Arbeit', 'fertig', 'storniert'];

// ---------------------------------------------------------------------------------------------

const DAY_2005 = dayNumber(2005, 1, 1)!;
const DAY_2010 = dayNumber(2010, 1, 1)!;
const DAY_2015 = dayNumber(2015, 1, 1)!;
const DAY_2025 = dayNumber(2025, 1, 1)!;
const TS_FROM = Date.UTC(2015, 0, 1);
const TS_TO = Date.UTC(2025, 0, 1);

/** Row `i` of a relation is dangling when `i % 50 === offset` (≈ 2 %, deterministic, present from 50 rows on). */
const isDangling = (i: number, offset: number): boolean => i % 50 === offset;

/**
 * Assigns `n` children to `parents` parents: `-1` for dangling children, otherwise parent indexes
 * in ascending order (children grouped by parent), every parent getting at least one child while
 * there are enough children, the rest spread at random.
 */
function assignParents(rng: Random, n: number, parents: number, danglingOffset: number): Int32Array {
  let regular = 0;
  for (let i = 0; i < n; i++) if (!isDangling(i, danglingOffset)) regular++;
  const counts = new Int32Array(parents);
  for (let p = 0; p < Math.min(regular, parents); p++) counts[p] = 1;
  for (let k = parents; k < regular; k++) counts[rng.int(0, parents - 1)]++;
  const out = new Int32Array(n);
  let p = 0;
  for (let i = 0; i < n; i++) {
    if (isDangling(i, danglingOffset)) {
      out[i] = -1;
      continue;
    }
    while (counts[p] === 0) p++;
    out[i] = p;
    counts[p]--;
  }
  return out;
}

class Generator {
  // Facts later tables join on.
  private familyKeys: string[] = [];
  private familyNames: (readonly [string, string])[] = [];
  private familyNumbers: string[] = [];
  private variantNumbers: string[] = [];
  private variantNames: string[] = [];
  private variantPrices: number[] = [];
  private customerNumbers: string[] = [];
  private recordNumbers: number[] = [];
  private moldNumbers: string[] = [];
  private orders: { nr: string; qty: number; state: string; day: number }[] = [];

  constructor(
    private readonly db: EmulatorDatabase,
    private readonly sizes: Record<TableName, number>,
    private readonly seed: number,
  ) {}

  private table(name: TableName): { table: EmulatorTable; rng: Random; n: number } {
    const table = this.db.table(name)!;
    return { table, rng: new Random(mixSeed(this.seed, table.def.tableNumber)), n: this.sizes[name] };
  }

  /** A plausible `__TIMESTAMP` between 2015 and 2024. */
  private stamp(rng: Random): Date {
    return new Date(TS_FROM + Math.floor(rng.next() * (TS_TO - TS_FROM)));
  }

  /** A wire date, ≈ 4 % `"0!0!0"` and ≈ 1 % `null`. */
  private date(rng: Random, day: number): string | null {
    const r = rng.next();
    if (r < 0.04) return '0!0!0';
    if (r < 0.05) return null;
    return dayToWire(day);
  }

  /** Hostile text on the first rows, and now and then later on. */
  private hostile(rng: Random, i: number, list: readonly string[] = HOSTILE): string | undefined {
    if (i < list.length) return list[i];
    return rng.chance(0.02) ? rng.pick(list) : undefined;
  }

  families(): void {
    const { table, rng, n } = this.table('Artikel_Familie');
    let nummer = 110000;
    for (let i = 0; i < n; i++) {
      nummer += rng.int(1, 100);
      const subject = rng.pick(SUBJECTS);
      const detail = rng.pick(DETAILS);
      const name: [string, string] = [`${subject[0]} ${detail[0]}`, `${subject[1]} ${detail[1]}`];
      const hostile = this.hostile(rng, i);
      if (hostile) name[0] = `${name[0]} ${hostile}`;
      const height = rng.int(20, 180);
      const row = table.insert(
        {
          Nummer: String(nummer),
          Bezeichnung: name[0],
          Bezeichnung_ENG: name[1],
          Beschreibung: `${name[0]} aus feinem Zinn, Höhe ${height} mm.${hostile && i % 2 === 0 ? ` Hinweis: ${HOSTILE[(i + 3) % HOSTILE.length]}` : ''}`,
          Beschreibung_ENG: `${name[1]} in fine pewter, height ${height} mm.`,
          Beschreibung_kurz: `${subject[0]}, ${height} mm`,
          Gewicht: round2(rng.int(50, 4000) / 10),
          ArtGr: rng.pick(ART_GROUPS),
          Haengend: rng.chance(0.4),
          Einseitig: rng.chance(0.3),
          Neu: rng.chance(0.1),
          Release_date: this.date(rng, rng.int(DAY_2005, DAY_2025 - 1)),
          aktiv: rng.chance(0.9),
        },
        this.stamp(rng),
      );
      this.familyKeys.push(row.__KEY);
      this.familyNames.push(name);
      this.familyNumbers.push(String(nummer));
    }
  }

  variants(): void {
    const { table, rng, n } = this.table('Artikel_Variante');
    const plan = assignParents(rng, n, this.familyKeys.length, 17);
    let usedCodes = new Set<string>();
    let lastFamily = -2;
    for (let i = 0; i < n; i++) {
      const f = plan[i];
      if (f !== lastFamily && f !== -1) {
        usedCodes = new Set();
        lastFamily = f;
      }
      let finish = rng.pick(FINISHES);
      let code = finish[0];
      if (f !== -1) {
        for (let tries = 0; usedCodes.has(code) && tries < 30; tries++) code = (finish = rng.pick(FINISHES))[0];
        if (usedCodes.has(code)) code = `V${usedCodes.size + 1}`;
        usedCodes.add(code);
      }
      const base = f === -1 ? String(900000 + i) : this.familyNumbers[f];
      const famName = f === -1 ? [`${rng.pick(SUBJECTS)[0]} Sonderedition`, 'Special edition'] : this.familyNames[f];
      const nummer = `${base}-${code}`;
      const bezeichnung = `${famName[0]} ${finish[1]}`;
      const release = rng.int(DAY_2010, DAY_2025 - 1);
      const laden = round2(rng.int(290, 14900) / 100);
      const handel = round2(laden * (0.45 + rng.next() * 0.2));
      const ve = rng.pick([1, 3, 6, 10, 12, 24]);
      const prices = [
        { Art: 'Laden', Preis: laden, VE: 1 },
        { Art: 'Handel', Preis: handel, VE: ve },
      ];
      const preise = i % 40 === 11 ? null : { Coll: i % 40 === 23 ? [prices[0]] : i % 40 === 31 ? [prices[1]] : prices };
      table.insert(
        {
          Nummer: nummer,
          alteNummer: rng.chance(0.3) ? '' : rng.chance(0.85) ? String(rng.int(1000, 99999)) : `${base.slice(0, 3)}/${rng.int(10, 99)}`,
          Bezeichnung: bezeichnung,
          Bezeichnung_ENG: `${famName[1]} ${finish[2]}`,
          Beschreibung: `${bezeichnung}, ${finish[1]} ausgeführt.`,
          Gewicht: round2(rng.int(50, 4000) / 10),
          Familie_: f === -1 ? rng.hex32() : this.familyKeys[f],
          ArtikelArt: rng.pick(['STD', 'STD', 'STD', 'SET', 'MUS', 'ERS']),
          Farbe: finish[1],
          Groesse: rng.pick(SIZES),
          Verkaufsartikel: rng.chance(0.85),
          Release_date: this.date(rng, release),
          Auslaufdatum: this.date(rng, release + rng.int(365, 3650)),
          Aktiv: rng.chance(0.88),
          Preise: preise,
        },
        this.stamp(rng),
      );
      this.variantNumbers.push(nummer);
      this.variantNames.push(bezeichnung);
      this.variantPrices.push(handel);
    }
  }

  customersAndAddresses(): void {
    const customers = this.table('Kunden');
    const addresses = this.table('Adressen');
    const nK = customers.n;
    const plan = assignParents(addresses.rng, addresses.n, nK, 17);
    const adrNr = (j: number): string => String(200000 + j);
    const mainAddress: (string | undefined)[] = new Array(nK);
    for (let j = plan.length - 1; j >= 0; j--) if (plan[j] >= 0) mainAddress[plan[j]] = adrNr(j);

    const { rng } = customers;
    for (let i = 0; i < nK; i++) {
      // Two numbering schemes coexist in WSZ: "K-10023" and plain numbers.
      const kundenNr = i % 7 === 3 ? String(40000 + i) : `K-${10000 + i}`;
      const group = rng.pick(CUSTOMER_GROUPS);
      const country = rng.pick(COUNTRIES);
      customers.table.insert(
        {
          KundenNr: kundenNr,
          AdrNr: mainAddress[i] ?? '',
          Kundengr: group,
          Liefersperre: rng.chance(0.05),
          Preisgru: rng.pick(PRICE_GROUPS),
          USt_IdNr: group === 'Privat' ? '' : country === 'AT' ? `ATU${rng.int(10000000, 99999999)}` : `DE${rng.int(100000000, 999999999)}`,
          Zahlungsart: rng.pick(PAYMENT),
          Versandart: rng.pick(SHIPPING),
          Kreditlimit: rng.int(0, 100) * 500,
          Rabatt: rng.pick([0, 0, 0, 2.5, 5, 10, 15]),
          SkontoTage: rng.pick([0, 7, 10, 14]),
          NettoTage: rng.pick([14, 30, 30, 60]),
        },
        this.stamp(rng),
      );
      this.customerNumbers.push(kundenNr);
    }

    const a = addresses.rng;
    let lastOwner = -2;
    for (let j = 0; j < addresses.n; j++) {
      const owner = plan[j];
      const isMain = owner === -1 || owner !== lastOwner;
      if (owner !== -1) lastOwner = owner;
      const last = a.pick(LAST_NAMES);
      const [city, plz] = a.pick(CITIES);
      const firm =
        this.hostile(a, j, HOSTILE_FIRMS) ??
        a.pick(FIRM_PATTERNS).replace('{n}', last).replace('{f}', a.pick(FIRST_NAMES)).replace('{c}', city);
      const slug = firm.normalize('NFD').replace(/\p{M}/gu, '').replace(/ß/g, 'ss').replace(/[^A-Za-z0-9]+/g, '.').replace(/^\.|\.$/g, '').toLowerCase();
      addresses.table.insert(
        {
          AdrNr: adrNr(j),
          KundenNr: owner === -1 ? danglingCustomer(j) : this.customerNumbers[owner],
          Firma: firm,
          Strasse: `${a.pick(STREETS)} ${a.int(1, 120)}${a.chance(0.1) ? 'a' : ''}`,
          PLZ: plz,
          Ort: city,
          Land: a.pick(COUNTRIES),
          Telefon: a.chance(0.1) ? '' : `+49 ${a.int(30, 9999)} ${a.int(10000, 9999999)}`,
          Email: a.chance(0.15) ? '' : `info@${slug.slice(0, 30)}.de`,
          IstLieferadresse: isMain ? a.chance(0.9) : a.chance(0.7),
          IstRechnungsadresse: isMain ? true : a.chance(0.2),
          IstHauptadresse: isMain,
        },
        this.stamp(a),
      );
    }
  }

  salesRecords(): void {
    const { table, rng, n } = this.table('Belege');
    let absNr = 200000;
    for (let i = 0; i < n; i++) {
      absNr += rng.int(1, 3);
      const day = DAY_2015 + Math.floor(((DAY_2025 - DAY_2015 - 3) * i) / n) + rng.int(0, 2);
      const r = rng.next();
      const art = r < 0.45 ? 'R' : r < 0.7 ? 'A' : r < 0.9 ? 'L' : 'G';
      const t = rng.next();
      const [mwstArt, rate] = t < 0.85 ? ['voll', 0.19] : t < 0.95 ? ['ermäßigt', 0.07] : ['steuerfrei', 0];
      const netto = round2(5 + rng.next() ** 2 * 4000);
      const mwst = round2(netto * (rate as number));
      const fracht = rng.pick([0, 0, 0, 4.95, 5.9, 6.9, 12.5, 49]);
      const bearb = rng.pick([0, 0, 0, 0, 2.5, 5]);
      const bezahlt = art === 'R' ? rng.chance(0.8) : art === 'G' ? rng.chance(0.5) : false;
      const year = new Date(day * 86_400_000).getUTCFullYear();
      table.insert(
        {
          AbsNr: absNr,
          PapierNr: `${art}${year}-${String(i + 1).padStart(6, '0')}`,
          Datum: this.date(rng, day),
          Papierart: art,
          KundenNr: isDangling(i, 23) ? danglingCustomer(i) : rng.pick(this.customerNumbers),
          Netto: netto,
          MWST_EUR: mwst,
          Frachtkosten: fracht,
          Bearbeitungskos: bearb,
          Endbetrag: round2(netto + mwst + fracht + bearb),
          bezahlt,
          ZahlungsDat: bezahlt ? dayToWire(day + rng.int(0, 45)) : '0!0!0',
          Währung: rng.chance(0.94) ? 'EUR' : rng.pick(['CHF', 'USD', 'GBP']),
          MWSt_Art: mwstArt,
          Text: this.hostile(rng, i) ?? rng.pick(RECORD_TEXTS),
        },
        this.stamp(rng),
      );
      this.recordNumbers.push(absNr);
    }
  }

  salesRecordItems(): void {
    const { table, rng, n } = this.table('Belege_Pos');
    const plan = assignParents(rng, n, this.recordNumbers.length, 29);
    let last = -2;
    let lastPos = 0;
    for (let i = 0; i < n; i++) {
      const b = plan[i];
      if (b !== -1 && b !== last) {
        last = b;
        lastPos = 0;
      }
      // Dangling items (no record) are a record of their own with one line.
      const posNr = b === -1 ? 1 : ++lastPos;
      const danglingArticle = isDangling(i, 41);
      const v = rng.int(0, this.variantNumbers.length - 1);
      const menge = rng.chance(0.05) ? rng.pick([50, 100, 250]) : rng.int(1, 24);
      const preis = danglingArticle ? round2(rng.int(100, 9900) / 100) : this.variantPrices[v];
      const rabatt = rng.pick([0, 0, 0, 0, 2.5, 5, 10, 15]);
      table.insert(
        {
          AbsNr: b === -1 ? 100000 + (i % 100000) : this.recordNumbers[b],
          PosNr: posNr,
          ArtNr: danglingArticle ? `0${String(i % 100000).padStart(5, '0')}-ZZ` : this.variantNumbers[v],
          Bezeichnung: danglingArticle ? `Sonderanfertigung ${rng.pick(SUBJECTS)[0]}` : this.variantNames[v],
          Menge: menge,
          Preis: preis,
          Rabatt: rabatt,
          Pos_Betrag: round2(menge * preis * (1 - rabatt / 100)),
          Art: rng.chance(0.9) ? 'A' : rng.pick(['S', 'D']),
          Pick_Menge: rng.chance(0.1) ? rng.int(0, menge) : menge,
        },
        this.stamp(rng),
      );
    }
  }

  molds(): void {
    const { table, rng, n } = this.table('Formen');
    for (let i = 0; i < n; i++) {
      const formNr = `F${10000 + i}`;
      const hostile = i < 4 ? HOSTILE[(i * 5) % HOSTILE.length] : undefined;
      table.insert(
        {
          FormNr: formNr,
          Bezeichnung: `Form ${rng.pick(SUBJECTS)[0]} ${rng.int(2, 6)}-teilig${hostile ? ` ${hostile}` : ''}`,
          aktiv: rng.chance(0.85),
        },
        this.stamp(rng),
      );
      this.moldNumbers.push(formNr);
    }
  }

  moldArticles(): void {
    const { table, rng, n } = this.table('Form_Artikel');
    const plan = assignParents(rng, n, this.moldNumbers.length, 17);
    for (let i = 0; i < n; i++) {
      table.insert(
        {
          FormNr: plan[i] === -1 ? danglingMold(i) : this.moldNumbers[plan[i]],
          ArtNr: isDangling(i, 29) ? `0${String(i).padStart(5, '0')}-ZZ` : rng.pick(this.variantNumbers),
          Anzahl: rng.int(1, 12),
        },
        this.stamp(rng),
      );
    }
  }

  productionOrders(): void {
    const { table, rng, n } = this.table('Werksauftraege');
    for (let i = 0; i < n; i++) {
      const day = DAY_2015 + Math.floor(((DAY_2025 - DAY_2015 - 100) * i) / n) + rng.int(0, 5);
      const recent = i > n * 0.9;
      const state = recent ? rng.pick(ORDER_STATES) : rng.chance(0.95) ? 'fertig' : 'storniert';
      const qty = rng.chance(0.6) ? rng.pick([50, 100, 200, 250, 500, 1000]) : rng.int(10, 2000);
      const nr = `WA-${100000 + i}`;
      table.insert(
        {
          WerkAufNr: nr,
          Form_Nr: isDangling(i, 17) ? danglingMold(i) : rng.pick(this.moldNumbers),
          Stückzahl: qty,
          Status: state,
          eingestellt: this.date(rng, day),
          Termin: this.date(rng, day + rng.int(7, 90)),
          Prio: rng.int(1, 5),
          UUID: rng.hex32(),
        },
        this.stamp(rng),
      );
      this.orders.push({ nr, qty, state, day });
    }
  }

  productionOrderItems(): void {
    const { table, rng, n } = this.table('WerksauftrPos');
    const plan = assignParents(rng, n, this.orders.length, 23);
    let last = -2;
    let lastWap = 0;
    for (let i = 0; i < n; i++) {
      const o = plan[i];
      if (o !== -1 && o !== last) {
        last = o;
        lastWap = 0;
      }
      const wapNr = o === -1 ? 1 : ++lastWap;
      const order = o === -1 ? undefined : this.orders[o];
      const soll = order?.qty ?? rng.int(10, 2000);
      const state = order?.state ?? rng.pick(ORDER_STATES);
      const haben = state === 'fertig' ? soll : state === 'offen' ? 0 : rng.int(0, soll);
      table.insert(
        {
          W_Auftr_Nr: order?.nr ?? `WA-0${String(i).padStart(5, '0')}`,
          WAP_Nr: wapNr,
          Arbeitsgang: rng.pick(OPERATIONS),
          St_Soll: soll,
          St_Haben: haben,
          St_Rest: soll - haben,
          Datum_begin: this.date(rng, (order?.day ?? DAY_2015 + rng.int(0, 3000)) + rng.int(0, 30)),
          Status: state,
          Art_Nr: isDangling(i, 37) ? `0${String(i % 100000).padStart(5, '0')}-ZZ` : rng.pick(this.variantNumbers),
          Anteil: round2(rng.int(5, 100) / 100),
          Zeit: round2(rng.int(5, 600) / 10),
          St_Std: rng.int(20, 600),
          Wert: round2(soll * (0.2 + rng.next() * 4.8)),
          UUID: rng.hex32(),
        },
        this.stamp(rng),
      );
    }
  }
}

/** A customer number no customer has (real customers are `K-1` and four digits, or plain numbers). */
function danglingCustomer(i: number): string {
  return `K-0${String(i % 10000).padStart(4, '0')}`;
}

/** A mold number no mold has (real molds are `F1` and four digits). */
function danglingMold(i: number): string {
  return `F0${String(i % 10000).padStart(4, '0')}`;
}
