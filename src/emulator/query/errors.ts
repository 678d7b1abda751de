/** Errors of the emulator's query engine, shaped like 4D's `__ERROR` entries. */

/** One entry of a 4D `__ERROR` stack. */
export interface QueryErrorItem {
  message: string;
  componentSignature: string;
  errCode: number;
}

/**
 * A `$filter`, `$orderby` or `$attributes` the engine refuses. `errCode`/`message` describe this
 * error; `errors` is the whole 4D error stack to send (most specific first), which for some errors
 * starts with a more specific cause (e.g. 1500 before 1804). `status` is the HTTP status (500, as
 * 4D answers query errors).
 */
export class QueryError extends Error {
  override name = 'QueryError';
  readonly componentSignature = 'dbmg';
  readonly errors: QueryErrorItem[];

  constructor(
    readonly errCode: number,
    message: string,
    readonly status: number = 500,
    causes: QueryErrorItem[] = [],
  ) {
    super(message);
    this.errors = [...causes, { message, componentSignature: 'dbmg', errCode }];
  }

  /** The response body 4D would send: `{ "__ERROR": [...] }`. */
  toBody(): { __ERROR: QueryErrorItem[] } {
    return { __ERROR: this.errors.map((e) => ({ ...e })) };
  }
}

/** 4D error codes raised by the query engine. */
export const QueryErrCode = {
  /** Wrong comparison operator (or one that does not apply to the attribute's type). */
  wrongComparator: 1112,
  /** Empty query. */
  emptyQuery: 1162,
  /** Query that cannot be analysed (syntax). */
  syntax: 1200,
  /** Placeholder without a value, or with `null`. */
  placeholderMissing: 1279,
  /** Value (placeholder or literal) of a type that cannot be compared with the attribute. */
  wrongType: 1280,
  /** Attribute not found in the dataclass. */
  attributeNotFound: 1500,
  /** Cannot build the attribute list (`$attributes`, path lists). */
  attributeList: 1804,
  /** Missing closing `'`. */
  missingQuote: 1808,
  /** Missing closing `"`. */
  missingDoubleQuote: 1809,
  /** Bad `$orderby`. */
  orderBy: 1810,
  /** Empty attribute list. */
  emptyAttributeList: 1816,
} as const;

/** The 4D message for an unknown attribute. */
export function attributeNotFoundMessage(attribute: string, dataClass: string): string {
  return `The "${attribute}" attribute cannot be found in the "${dataClass}" datastore class`;
}
