/**
 * A span per upstream 4D request (retries included), child of whatever span is active (the
 * GraphQL operation's). Only `@opentelemetry/api`: without a registered provider every call is the
 * API's no-op. Attributes: table, route, method, status, retry count and session reuse; never the
 * path's values, a cookie, a password or the base URL.
 */
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { HttpRequest, HttpResponse } from './http.js';

const tracer = trace.getTracer('wsz-legacy-client');

/** Runs `send` inside a client span describing `request`; records the final status or the failure. */
export function tracedRequest(environment: string, request: HttpRequest, send: (span: Span) => Promise<HttpResponse>): Promise<HttpResponse> {
  return tracer.startActiveSpan(
    `4D ${request.method} ${request.route}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': request.method,
        'wsz.environment': environment,
        'wsz.route': request.route,
        ...(request.table ? { 'wsz.table': request.table } : {}),
        ...(request.sessionReused !== undefined ? { 'wsz.session.reused': request.sessionReused } : {}),
      },
    },
    async (span) => {
      try {
        const response = await send(span);
        span.setAttribute('http.response.status_code', response.status);
        if (response.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${response.status}` });
        return response;
      } catch (error) {
        // The error's class only: its message names the upstream path.
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
        const status = (error as { status?: unknown }).status;
        if (typeof status === 'number') span.setAttribute('http.response.status_code', status);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Records on the request's span how many attempts it took (0 retries for the first). */
export function recordAttempt(span: Span | undefined, attempt: number): void {
  span?.setAttribute('wsz.retry_count', attempt - 1);
}
