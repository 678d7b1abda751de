/**
 * The audit log: one line for every write through the legacy client (GraphQL mutations, `wsz push`,
 * the compatibility module), whatever its outcome: `saved`, `conflict`, `unknown` or `error`. It
 * names the request id and the caller (from the router's caller header, inside a GraphQL request;
 * the local user otherwise), the table, the keys and the field names written, never their values.
 */
import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import type { AuditEvent, AuditListener } from '../legacy/index.js';
import { currentRequest } from './request-scope.js';

/** Keys listed in one audit line; a larger batch lists the first ones and its `keyCount`. */
export const AUDIT_MAX_KEYS = 100;

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * The listener to subscribe with `client.subscribeAudit`. `via` names the writer outside a request
 * (`cli`, `compat`); inside a GraphQL request it is `graphql`.
 */
export function auditLog(logger: Logger, via = 'local'): AuditListener {
  const log = logger.child({ component: 'audit' });
  const local = `local:${localUser()}`;
  return (event: AuditEvent) => {
    const request = currentRequest();
    const keys = event.keys.slice(0, AUDIT_MAX_KEYS);
    log.info(
      {
        audit: 'write',
        via: request ? 'graphql' : via,
        ...(request ? { requestId: request.requestId } : {}),
        caller: request ? (request.caller ?? 'unnamed') : local,
        environment: event.environment,
        table: event.table,
        keys,
        ...(event.keys.length > keys.length ? { keyCount: event.keys.length } : {}),
        fields: event.fields,
        outcome: event.outcome,
        ...(event.error ? { error: event.error } : {}),
      },
      `write ${event.outcome}: ${event.table} ${event.keys.length === 1 ? event.keys[0] : `${event.keys.length} records`}`,
    );
  };
}
