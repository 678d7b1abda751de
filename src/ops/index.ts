/**
 * The operators' side of the server: the status page (`/status`, `/status.json`), the operator
 * gate it shares with `/metrics`, the browser landing page and the offline explorer (`/explorer`).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Express, RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { ExplorerMode } from '../config-features.js';
import type { Readiness } from '../health.js';
import { operatorGate } from './access.js';
import { createErrorCodes } from './error-codes.js';
import { landingPagePlugin, mountExplorer } from './explorer.js';
import { StatusSampler, type SessionSource } from './sampler.js';
import { statusPageHtml } from './status-page.js';

export { OPERATOR_COOKIE, operatorGate } from './access.js';
export { EXPLORER_PATH, SANDBOX_TIMEOUT_MS } from './explorer.js';
export type { SessionSource, StatusSnapshot, StatusPoint, EnvironmentStatus } from './sampler.js';

/** Options of the status page. */
export interface StatusOptions {
  /** How often the history is sampled and the page polls; default 5000 ms. */
  readonly sampleMs?: number;
  /** Points of history kept; default 120. */
  readonly points?: number;
}

export interface OpsDependencies {
  readonly registry: Registry;
  readonly readiness: Readiness;
  /** When set, `/status`, `/status.json` and `/metrics` need it (see `access.ts`); none: open. */
  readonly operatorToken?: string;
  /** Landing page and `/explorer`; default `sandbox`. */
  readonly explorer?: ExplorerMode;
  /** The session state of every environment (the legacy client); default: the readiness' one environment. */
  readonly sessions?: SessionSource;
  readonly status?: StatusOptions;
}

export interface Ops {
  /** Apollo Server plugins: the landing page and the error-code counts. */
  readonly plugins: ApolloServerPlugin[];
  /** The operator gate (for `/metrics`). */
  readonly gate: RequestHandler;
  readonly sampler: StatusSampler;
  /** Mounts `/status`, `/status.json` and `/explorer`. */
  mount(app: Express): void;
  /** Starts sampling the history. */
  start(): void;
  stop(): void;
}

export function createOps(deps: OpsDependencies): Ops {
  const explorer = deps.explorer ?? 'sandbox';
  const errorCodes = createErrorCodes();
  const sampler = new StatusSampler({
    registry: deps.registry,
    readiness: deps.readiness,
    errorCodes,
    sessions: deps.sessions,
    sampleMs: deps.status?.sampleMs,
    points: deps.status?.points,
  });
  const gate = operatorGate(deps.operatorToken);
  const page = statusPageHtml(sampler.sampleMs);
  return {
    plugins: [landingPagePlugin(explorer), errorCodes.plugin],
    gate,
    sampler,
    mount(app) {
      app.get('/status', gate, (_req, res) => {
        res.type('html').set('cache-control', 'no-store').send(page);
      });
      app.get('/status.json', gate, async (_req, res, next) => {
        try {
          res.set('cache-control', 'no-store').json(await sampler.snapshot());
        } catch (err) {
          next(err);
        }
      });
      mountExplorer(app, explorer);
    },
    start: () => sampler.start(),
    stop: () => sampler.stop(),
  };
}
