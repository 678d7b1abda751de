/**
 * The offline explorer in headless Chromium: with every origin but the subgraph's blocked, the
 * landing page falls back from Apollo Sandbox (Apollo's CDN) to the bundled GraphiQL, which runs
 * an operation typed into its editor and shows the answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { BROWSER_TESTS, cutOffNetwork, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { startOpsSubgraph, type OpsSubgraph } from './fixture.js';

/**
 * Sets the query editor's text through CodeMirror (typing would fight its auto-closing brackets).
 * Anonymous operations: GraphiQL takes the operation name from the editor after a debounce, so a
 * named operation run at once would go out with the previous name.
 */
async function setQuery(page: Page, query: string): Promise<void> {
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
  await page.$eval(
    '.graphiql-query-editor .CodeMirror',
    (el, q) => (el as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue(q),
    query,
  );
}

async function runAndReadResult(page: Page, expected: string): Promise<string> {
  await page.click('.graphiql-execute-button');
  // Page-side code as a string: the project's types have no DOM library.
  await page.waitForFunction(`document.querySelector('.graphiql-response')?.textContent?.includes(${JSON.stringify(expected)})`);
  return page.$eval('.graphiql-response', (el) => el.textContent ?? '');
}

// A browser on a shared, loaded machine: more time than the default 30 s.
describe.skipIf(!BROWSER_TESTS)('the explorer in Chromium with the network cut off', { timeout: 90_000 }, () => {
  let chromium: TestBrowser;
  let subgraph: OpsSubgraph;

  beforeAll(async () => {
    chromium = await launchBrowser();
    subgraph = await startOpsSubgraph();
  }, 90_000);
  afterAll(async () => {
    await chromium?.close();
    await subgraph?.close();
  }, 90_000);

  it('falls back from Apollo Sandbox to the bundled GraphiQL, which runs a query and shows the answer', async () => {
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 1200, height: 800 });
    const blocked = await cutOffNetwork(page, subgraph.url);
    await page.goto(`${subgraph.url}/`);
    await page.waitForSelector('.graphiql-container');
    expect(new URL(page.url()).pathname).toBe('/explorer');
    // The fallback happened because Apollo's CDN was unreachable, and nothing else was asked of the outside.
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked.every((url) => new URL(url).hostname.endsWith('apollographql.com'))).toBe(true);

    const sku = subgraph.sku(1);
    subgraph.emulator.resetCounters();
    await setQuery(page, `{\n  productBySku(sku: "${sku}") {\n    sku\n  }\n}`);
    const result = await runAndReadResult(page, `"sku": "${sku}"`);
    expect(result).toContain('"productBySku"');
    expect(subgraph.emulator.counters.requests).toBeGreaterThan(0);
    await screenshot(page, 'explorer-offline');
    await page.close();
  });

  it('serves GraphiQL as the landing page itself with EXPLORER=graphiql, asking no CDN at all', async () => {
    const only = await startOpsSubgraph({ explorer: 'graphiql' });
    try {
      const page = await chromium.browser.newPage();
      const blocked = await cutOffNetwork(page, only.url);
      await page.goto(`${only.url}/graphql`);
      await page.waitForSelector('.graphiql-container');
      expect(new URL(page.url()).pathname).toBe('/graphql');
      await setQuery(page, '{ legacyReady }');
      expect(await runAndReadResult(page, '"legacyReady": true')).toContain('"data"');
      expect(blocked).toEqual([]);
      await page.close();
    } finally {
      await only.close();
    }
  });
});
