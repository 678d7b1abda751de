/**
 * The router-facing checks: the shared router secret on `/graphql` (probes and metrics are
 * exempt), and the authorization mutations need. Secrets are compared in constant time (both sides
 * hashed first, so not even their lengths leak) and never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { GraphQLError, Kind, type OperationDefinitionNode } from 'graphql';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';

/** The header the router sends the shared secret in. */
export const ROUTER_SECRET_HEADER = 'x-router-secret';

/** Whether `presented` equals `secret`, in constant time. */
export function sameSecret(presented: string | string[] | undefined, secret: string): boolean {
  if (typeof presented !== 'string') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(secret));
}

/**
 * Refuses (401, a GraphQL-shaped JSON body) a `/graphql` request without the router secret. With no
 * secret configured every request passes (development, or `ROUTER_SECRET=off`).
 */
export function routerSecretGuard(secret: string | undefined, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (secret === undefined || sameSecret(req.headers[ROUTER_SECRET_HEADER], secret)) return next();
    const why = req.headers[ROUTER_SECRET_HEADER] === undefined ? 'missing' : 'wrong';
    logger.warn({ why, method: req.method, url: req.originalUrl.split('?')[0] }, `refused a request with a ${why} ${ROUTER_SECRET_HEADER} header`);
    res
      .status(401)
      .set('cache-control', 'no-store')
      .json({ errors: [{ message: `This subgraph serves only the router: the ${ROUTER_SECRET_HEADER} header is ${why}`, extensions: { code: 'UNAUTHENTICATED' } }] });
  };
}

/** How mutations are authorized. */
export interface MutationAuth {
  /** Request header the router sends the authorization in; lower case. */
  readonly header: string;
  /** The value it must carry (alone or after `Bearer `); none: see `production`. */
  readonly token?: string;
  /** Without a token, mutations are refused in production and allowed otherwise. */
  readonly production?: boolean;
}

/** What a request's headers say about mutations: allowed, or why not. */
export type MutationPermission = { readonly allowed: true } | { readonly allowed: false; readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN'; readonly reason: string };

export function mutationPermission(auth: MutationAuth, headers: Record<string, string | string[] | undefined>): MutationPermission {
  if (auth.token === undefined) {
    return auth.production
      ? { allowed: false, code: 'FORBIDDEN', reason: 'Mutations are disabled: no MUTATION_AUTH_TOKEN is configured' }
      : { allowed: true };
  }
  const raw = headers[auth.header];
  if (typeof raw !== 'string' || raw === '') {
    return { allowed: false, code: 'UNAUTHENTICATED', reason: `Mutations need the ${auth.header} header from the router` };
  }
  const presented = raw.startsWith('Bearer ') ? raw.slice('Bearer '.length) : raw;
  return sameSecret(presented, auth.token)
    ? { allowed: true }
    : { allowed: false, code: 'FORBIDDEN', reason: `The ${auth.header} header does not authorize mutations` };
}

/** Root fields of a mutation that carry their own check (the operator token) instead. */
const OWN_CHECK = new Set(['purgeCache', '__typename']);

function needsMutationAuth(operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'mutation') return false;
  // Fragments on Mutation count as writes: only plain operator fields are exempt.
  return operation.selectionSet.selections.some((s) => s.kind !== Kind.FIELD || !OWN_CHECK.has(s.name.value));
}

/**
 * Refuses a mutation whose context is not authorized before it executes, so it costs no upstream
 * request. `permission` reads it from the context (computed from the headers once per request).
 */
export function mutationAuthPlugin<C extends BaseContext>(permission: (context: C) => MutationPermission | undefined): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (!operation || !needsMutationAuth(operation)) return;
          const p = permission(contextValue) ?? { allowed: true };
          if (p.allowed) return;
          throw new GraphQLError(`${p.reason}; nothing was sent to the ERP`, { extensions: { code: p.code } });
        },
      };
    },
  };
}
