/**
 * OpenTelemetry tracing: a span per GraphQL operation (child of the router's W3C `traceparent`)
 * and, from the legacy client, a child span per upstream 4D request. Exported by OTLP/HTTP when a
 * URL is configured; otherwise nothing is registered, the API stays the no-op one and the GraphQL
 * middleware is not mounted (no cost beyond a function call in the client).
 *
 * Span attributes never carry a header, a cookie, a password, a URL with credentials or a filter
 * value: the operation span has the operation's type and name and the error codes; the 4D span the
 * table, route, method, status, retries and whether the session was reused.
 */
import { context, propagation, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/** The instrumentation scope of the subgraph's spans. */
export const TRACER_NAME = 'wsz-subgraph';

export interface TracingOptions {
  /** OTLP/HTTP traces URL (`…/v1/traces`); none and no `exporter`: tracing is off. */
  readonly otlpUrl?: string;
  /** An exporter to use instead of OTLP (tests: `InMemorySpanExporter`), sent to synchronously. */
  readonly exporter?: SpanExporter;
  readonly serviceName?: string;
  readonly logger?: Logger;
}

export interface Tracing {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** Flushes the spans still buffered and unregisters the global provider. */
  shutdown(): Promise<void>;
}

/** Registers the global tracer provider, context manager and W3C propagator when configured. */
export function startTracing(options: TracingOptions): Tracing {
  if (!options.otlpUrl && !options.exporter) return { enabled: false, shutdown: async () => undefined };
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpUrl }));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'wsz-legacy-subgraph' }),
    spanProcessors: [processor],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  if (options.otlpUrl) options.logger?.info({ setting: 'TRACING_OTLP_URL', endpoint: new URL(options.otlpUrl).origin }, 'tracing: exporting spans by OTLP/HTTP');
  return {
    enabled: true,
    async shutdown() {
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

/**
 * Starts the operation span from the incoming `traceparent` and runs the rest of the chain in it.
 * Mount after the body parser (its stream callbacks do not keep the async context). The plugin
 * below names it once the operation is known.
 */
export function operationSpan(): RequestHandler {
  const tracer = trace.getTracer(TRACER_NAME);
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan('graphql', { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.baseUrl || '/graphql' } }, parent);
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}

/** Names the operation span `query Name` and records the operation and the error codes. */
export function tracingPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const span: Span | undefined = trace.getActiveSpan();
      if (!span?.isRecording()) return;
      return {
        async didResolveOperation({ operation, operationName }) {
          if (!operation) return;
          const name = operationName ?? operation.name?.value;
          span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
          span.setAttribute('graphql.operation.type', operation.operation);
          if (name) span.setAttribute('graphql.operation.name', name);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          if (!errors?.length) return;
          const codes = [...new Set(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
          span.setAttribute('graphql.error.codes', codes);
          span.setAttribute('graphql.error.count', errors.length);
          span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(',') });
        },
      };
    },
  };
}
