/**
 * Domain errors of the mapping layer. They carry what the GraphQL layer needs and are turned into
 * `GraphQLError`s with an `extensions.code` in one place (`src/errors.ts`).
 */

/** Bad input from a client (an argument, a filter, a mutation input); the message names it. */
export class InputError extends Error {
  override name = 'InputError';
}

/** An optimistic-lock conflict: the entity changed since the client read it. */
export class StaleStampError extends Error {
  override name = 'StaleStampError';
  constructor(
    message: string,
    /** The entity's current stamp. */
    readonly currentStamp: number | undefined,
    /** The entity's current values, decoded to GraphQL field names. */
    readonly currentValues: Readonly<Record<string, unknown>> | undefined,
  ) {
    super(message);
  }
}

/** The entity a mutation targets does not exist. */
export class EntityNotFoundError extends Error {
  override name = 'EntityNotFoundError';
}

/** The operation is for operators only (the operator token did not match, or none is configured in production). */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
}
