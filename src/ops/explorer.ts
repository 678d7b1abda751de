/**
 * The browser landing page of `/graphql` and the explorer that works offline.
 *
 * `sandbox` (default outside production): Apollo Sandbox, loaded from Apollo's CDN by a small
 * inline script; when that script cannot be loaded (offline, CDN blocked, nothing within
 * {@link SANDBOX_TIMEOUT_MS}) the page switches to `/explorer`. `graphiql`: `/graphql` shows the
 * bundled GraphiQL directly and nothing is loaded from a CDN. `off`: no landing page, no `/explorer`.
 *
 * `/explorer` is GraphiQL served entirely by the subgraph: the UMD builds of `react`, `react-dom`
 * and `graphiql` straight from `node_modules` (no build step, works after `npm ci` offline).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import express, { type Express } from 'express';
import type { ExplorerMode } from '../config-features.js';

/** How long the landing page waits for Apollo's Sandbox script before switching to `/explorer`. */
export const SANDBOX_TIMEOUT_MS = 5000;

/** Where the bundled explorer is served. */
export const EXPLORER_PATH = '/explorer';

const SANDBOX_SCRIPT = 'https://embeddable-sandbox.cdn.apollographql.com/_latest/embeddable-sandbox.umd.production.min.js';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/** The files of the bundled explorer: URL name → file in `node_modules`. */
const ASSETS: Readonly<Record<string, () => string>> = {
  'react.production.min.js': () => join(packageDir('react'), 'umd', 'react.production.min.js'),
  'react-dom.production.min.js': () => join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'),
  'graphiql.min.js': () => join(packageDir('graphiql'), 'graphiql.min.js'),
  'graphiql.min.css': () => join(packageDir('graphiql'), 'graphiql.min.css'),
};

const STARTER = `# The bundled explorer (GraphiQL), served by the subgraph itself.
# Ctrl-Enter runs the operation.
{
  legacyReady
}
`;

/** The GraphiQL page; `endpoint` is the GraphQL path. */
export function graphiqlHtml(endpoint: string): string {
  const assets = `${EXPLORER_PATH}/assets`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WSZ subgraph explorer (GraphiQL)</title>
<link rel="stylesheet" href="${assets}/graphiql.min.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading the explorer…</div>
<script src="${assets}/react.production.min.js"></script>
<script src="${assets}/react-dom.production.min.js"></script>
<script src="${assets}/graphiql.min.js"></script>
<script>
(function () {
  var params = new URLSearchParams(location.search);
  var fetcher = GraphiQL.createFetcher({ url: new URL(${JSON.stringify(endpoint)}, location.href).href });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: ${JSON.stringify(STARTER)},
    query: params.get('query') || undefined,
    shouldPersistHeaders: false,
  }));
})();
</script>
</body>
</html>`;
}

/** The Sandbox landing page with its switch to the bundled explorer. */
export function sandboxHtml(): string {
  const config = { target: '#embeddableSandbox', initialState: { includeCookies: false }, endpointIsEditable: false, runTelemetry: false, hideCookieToggle: false, allowDynamicStyles: false };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WSZ subgraph: Apollo Sandbox</title>
<style>
  body { margin: 0; font-family: system-ui, sans-serif; }
  #embeddableSandbox { width: 100vw; height: 100vh; position: absolute; top: 0; }
  iframe { background-color: white; height: 100%; width: 100%; border: none; }
  .fallback { padding: 2em; color: #555; }
</style>
</head>
<body>
<p class="fallback">Loading Apollo Sandbox… Without Apollo's CDN the bundled explorer opens instead: <a href="${EXPLORER_PATH}">${EXPLORER_PATH}</a>.</p>
<div id="embeddableSandbox"></div>
<script>
(function () {
  var settled = false;
  function fallback() {
    if (settled) return;
    settled = true;
    location.replace(${JSON.stringify(EXPLORER_PATH)});
  }
  var timer = setTimeout(fallback, ${SANDBOX_TIMEOUT_MS});
  var script = document.createElement('script');
  script.src = ${JSON.stringify(SANDBOX_SCRIPT)};
  script.onerror = fallback;
  script.onload = function () {
    if (settled) return;
    clearTimeout(timer);
    if (typeof window.EmbeddedSandbox !== 'function') return fallback();
    settled = true;
    var config = ${JSON.stringify(config)};
    config.initialEndpoint = location.href;
    new window.EmbeddedSandbox(config);
  };
  document.head.appendChild(script);
})();
</script>
</body>
</html>`;
}

/** The Apollo Server plugin rendering the landing page of `mode`. */
export function landingPagePlugin(mode: ExplorerMode, endpoint = '/graphql'): ApolloServerPlugin {
  if (mode === 'off') return ApolloServerPluginLandingPageDisabled();
  const html = mode === 'graphiql' ? graphiqlHtml(endpoint) : sandboxHtml();
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}

/** Mounts `/explorer` and its assets (nothing with `off`). */
export function mountExplorer(app: Express, mode: ExplorerMode, endpoint = '/graphql'): void {
  if (mode === 'off') return;
  const page = graphiqlHtml(endpoint);
  app.get(EXPLORER_PATH, (_req, res) => {
    res.type('html').set('cache-control', 'no-cache').send(page);
  });
  const assets = express.Router();
  for (const [name, file] of Object.entries(ASSETS)) {
    const path = file();
    assets.get(`/${name}`, (_req, res, next) => {
      res.sendFile(path, { maxAge: '1h' }, (err) => err && next(err));
    });
  }
  app.use(`${EXPLORER_PATH}/assets`, assets);
}
