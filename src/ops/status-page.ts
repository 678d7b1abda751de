/**
 * The operators' status page (`GET /status`): one self-contained HTML document, its CSS and script
 * inline, no asset from anywhere else. The script polls `/status.json` (same origin, the operator
 * cookie goes along) and draws the numbers and small SVG sparklines from the sampled history.
 * Every value is put in with `textContent` or SVG attributes, never as HTML.
 */

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5f6b7d; --bg: #f6f7f9; --card: #fff; --line: #2b6cb0; --bad: #c53030; --ok: #2f855a; --warn: #b7791f; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #9aa5b5; --bg: #12151b; --card: #1b2029; --line: #63b3ed; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
#meta { color: var(--muted); margin-bottom: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { background: var(--card); border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.big { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.sub { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 6px 3px 0; border-bottom: 1px solid rgba(127,127,127,.2); overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 500; font-size: 12px; white-space: nowrap; overflow-wrap: normal; }
svg.spark { display: block; width: 100%; height: 40px; margin-top: 6px; }
svg.spark polyline { fill: none; stroke: var(--line); stroke-width: 1.5; }
.state-ok { color: var(--ok); } .state-failing, .state-session-limit { color: var(--bad); } .state-unknown { color: var(--warn); }
.wide { grid-column: 1 / -1; }
#error { color: var(--bad); }
`;

const SCRIPT = `
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var fmt = function (n, unit) { return n === null || n === undefined ? '–' : (Math.round(n * 10) / 10).toLocaleString('en') + (unit || ''); };
  var pct = function (r) { return r === null || r === undefined ? '–' : (Math.round(r * 1000) / 10) + ' %'; };
  function set(id, text) { var el = $(id); if (el) el.textContent = text; }
  function spark(id, values) {
    var svg = $(id); if (!svg) return;
    var pts = [], nums = values.filter(function (v) { return v !== null; });
    var max = Math.max.apply(null, nums.concat([0])), min = Math.min.apply(null, nums.concat([0]));
    var span = max - min || 1, n = values.length;
    values.forEach(function (v, i) {
      if (v === null) return;
      var x = n > 1 ? (i / (n - 1)) * 200 : 100, y = 38 - ((v - min) / span) * 36;
      pts.push(x.toFixed(1) + ',' + y.toFixed(1));
    });
    svg.setAttribute('data-points', String(pts.length));
    // One point alone is drawn as a short flat stroke.
    if (pts.length === 1) pts.push((Number(pts[0].split(',')[0]) + 4).toFixed(1) + ',' + pts[0].split(',')[1]);
    var line = svg.querySelector('polyline');
    line.setAttribute('points', pts.join(' '));
  }
  function rows(id, list, cells) {
    var body = $(id); if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    list.forEach(function (item) {
      var tr = document.createElement('tr');
      cells(item).forEach(function (c) {
        var td = document.createElement('td');
        if (typeof c === 'object' && c) { td.textContent = c.text; if (c.cls) td.className = c.cls; } else td.textContent = String(c);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function entries(obj) { return Object.keys(obj || {}).sort().map(function (k) { return [k, obj[k]]; }); }
  function render(s) {
    set('meta', 'phase ' + s.phase + ' · ' + s.inFlight + ' request(s) in flight · sampled every ' + s.sampleMs / 1000 + ' s · updated ' + new Date(s.at).toLocaleTimeString());
    rows('env-rows', s.environments, function (e) {
      return [e.environment, { text: e.state, cls: 'state-' + e.state },
        e.session ? (e.session.present ? 'yes' + (e.session.idleSeconds !== undefined ? ' (idle ' + e.session.idleSeconds + ' s)' : '') : 'no') : 'unknown',
        e.breakerOpen ? 'open' : 'closed', e.requests, fmt(e.meanMs, ' ms')];
    });
    var held = 0, logins = 0, refused = 0, guests = 0, lost = 0;
    s.environments.forEach(function (e) { held += e.licence.held; logins += e.licence.logins; refused += e.licence.refused; guests += e.licence.guestsEnded; lost += e.licence.lost; });
    set('licences-held', String(held));
    set('licences-sub', logins + ' login(s) · ' + refused + ' refused (pool full) · ' + guests + ' guest session(s) ended · ' + lost + ' lost');
    set('upstream-requests', String(s.upstream.requests));
    set('upstream-requests-sub', 'since start · ' + entries(s.upstream.statuses).filter(function (p) { return p[0] === '0' || Number(p[0]) >= 500; }).reduce(function (a, p) { return a + p[1]; }, 0) + ' failed');
    set('upstream-latency', fmt(s.upstream.meanMs, ' ms'));
    set('upstream-latency-sub', 'mean since start · p95 ≤ ' + fmt(s.upstream.p95Ms, ' ms'));
    set('cache-ratio', pct(s.cache.hitRatio));
    set('cache-ratio-sub', s.cache.hits + ' hit(s) · ' + s.cache.misses + ' miss(es) · ' + s.cache.stale + ' stale · store ' + (s.cache.storeUp === null ? 'n/a' : s.cache.storeUp ? 'up' : 'down'));
    set('watcher-lag', s.watcher.lagSeconds === null ? 'off' : fmt(s.watcher.lagSeconds, ' s'));
    set('watcher-lag-sub', (s.watcher.strategy || 'no watcher') + (s.watcher.leader === null ? '' : s.watcher.leader ? ' · leader' : ' · follower') + (entries(s.watcher.polls).length ? ' · polls ' + entries(s.watcher.polls).map(function (p) { return p[0] + ' ' + p[1]; }).join(', ') : ''));
    set('graphql-ops', String(s.graphql.operations));
    set('graphql-ops-sub', s.graphql.failed + ' with errors');
    rows('error-rows', entries(s.errors.total).map(function (p) { return [p[0], s.errors.recent[p[0]] || 0, p[1]]; }), function (r) { return r; });
    set('error-window', 'last ' + Math.round(s.errors.windowSeconds / 60) + ' min');
    rows('status-rows', entries(s.upstream.statuses), function (p) { return [p[0] === '0' ? 'no answer' : p[0], p[1]]; });
    var h = s.history;
    spark('spark-upstream', h.map(function (p) { return p.upstreamMs; }));
    spark('spark-requests', h.map(function (p) { return p.upstreamRequests; }));
    spark('spark-cache', h.map(function (p) { return p.hitRatio; }));
    spark('spark-lag', h.map(function (p) { return p.lagSeconds; }));
    spark('spark-ops', h.map(function (p) { return p.operations; }));
    spark('spark-errors', h.map(function (p) { return p.errors; }));
  }
  var pollMs = Number(document.body.getAttribute('data-poll-ms')) || 5000;
  // /status polls /status.json (and /ops/status behind a prefix /ops/status.json).
  var jsonPath = location.pathname;
  while (jsonPath.length > 1 && jsonPath.charAt(jsonPath.length - 1) === '/') jsonPath = jsonPath.slice(0, -1);
  jsonPath += '.json';
  function poll() {
    fetch(jsonPath, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('status.json answered ' + r.status); return r.json(); })
      .then(function (s) { set('error', ''); render(s); document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || 0) + 1)); })
      .catch(function (e) { set('error', String(e.message || e)); })
      .then(function () { setTimeout(poll, pollMs); });
  }
  poll();
})();
`;

const card = (title: string, id: string, spark: string, sparkLabel: string) => `
  <section class="card"><h2>${title}</h2><div class="big" id="${id}">–</div><div class="sub" id="${id}-sub"></div>
  <svg class="spark" id="${spark}" viewBox="0 0 200 40" preserveAspectRatio="none" role="img" aria-label="${sparkLabel}"><polyline points=""/></svg></section>`;

/** The status page; `pollMs` is how often it asks for `/status.json`. */
export function statusPageHtml(pollMs: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>WSZ subgraph status</title>
<style>${STYLE}</style>
</head>
<body data-poll-ms="${Math.max(250, Math.round(pollMs))}">
<h1>WSZ subgraph status</h1>
<div id="meta">loading…</div>
<div id="error" role="alert"></div>
<div class="grid">
  <section class="card wide"><h2>Sessions per environment</h2>
    <table><thead><tr><th>environment</th><th>upstream</th><th>4D session</th><th>licence breaker</th><th>requests</th><th>mean latency</th></tr></thead><tbody id="env-rows"></tbody></table></section>
  <section class="card"><h2>Licences held</h2><div class="big" id="licences-held">–</div><div class="sub" id="licences-sub"></div></section>
  ${card('Upstream latency', 'upstream-latency', 'spark-upstream', 'mean upstream latency per sample')}
  ${card('Upstream requests', 'upstream-requests', 'spark-requests', 'upstream requests per sample')}
  ${card('Cache hit ratio', 'cache-ratio', 'spark-cache', 'cache hit ratio per sample')}
  ${card('Change-watcher lag', 'watcher-lag', 'spark-lag', 'change-watcher lag')}
  ${card('GraphQL operations', 'graphql-ops', 'spark-ops', 'operations per sample')}
  <section class="card"><h2>Error codes <span class="sub" id="error-window"></span></h2>
    <table><thead><tr><th>code</th><th>recent</th><th>since start</th></tr></thead><tbody id="error-rows"></tbody></table>
    <svg class="spark" id="spark-errors" viewBox="0 0 200 40" preserveAspectRatio="none" role="img" aria-label="errors per sample"><polyline points=""/></svg></section>
  <section class="card"><h2>Upstream HTTP statuses</h2>
    <table><thead><tr><th>status</th><th>requests</th></tr></thead><tbody id="status-rows"></tbody></table></section>
</div>
<script>${SCRIPT}</script>
</body>
</html>`;
}
