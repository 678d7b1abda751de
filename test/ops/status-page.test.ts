/**
 * The status page in headless Chromium: live numbers that move with traffic, error codes without
 * messages, a screenshot artifact, and the refusal without the operator token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { BROWSER_TESTS, cutOffNetwork, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { startOpsSubgraph, type OpsSubgraph } from './fixture.js';

const TOKEN = 'status-page-operator-token';

// Page-side code is passed as strings: the project's types have no DOM library.
const text = (page: Page, selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
const number = async (page: Page, selector: string) => Number((await text(page, selector)).replace(/[^\d.]/g, ''));

// A browser on a shared, loaded machine: more time than the default 30 s.
describe.skipIf(!BROWSER_TESTS)('the status page in Chromium', { timeout: 90_000 }, () => {
  let chromium: TestBrowser;
  let open: OpsSubgraph;
  let guarded: OpsSubgraph;

  beforeAll(async () => {
    chromium = await launchBrowser();
    open = await startOpsSubgraph();
    guarded = await startOpsSubgraph({ operatorToken: TOKEN });
  }, 90_000);
  afterAll(async () => {
    await chromium?.close();
    await open?.close();
    await guarded?.close();
  }, 90_000);

  it('renders the numbers, which change with traffic, and draws the sparklines from the sampled history', async () => {
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const blocked = await cutOffNetwork(page, open.url);
    const scriptErrors: string[] = [];
    page.on('pageerror', (error) => scriptErrors.push(String(error)));
    await page.goto(`${open.url}/status`);
    await page.waitForFunction('Number(document.body.dataset.updates) >= 1');
    const before = { upstream: await number(page, '#upstream-requests'), operations: await number(page, '#graphql-ops') };
    expect(await text(page, '#env-rows')).toContain('test');

    // Traffic: the same product twice (the second one is a cache hit) and an invalid operation.
    const sku = open.sku();
    for (let i = 0; i < 2; i++) expect((await open.post('query($sku: String!) { productBySku(sku: $sku) { sku } }', { sku })).data).toEqual({ productBySku: { sku } });
    const invalid = await open.post('{ noSuchField }');
    expect(invalid.errors?.[0]?.message).toContain('noSuchField');

    await page.waitForFunction(
      `Number(document.getElementById('graphql-ops').textContent) >= ${before.operations + 3} && Number(document.getElementById('upstream-requests').textContent) > ${before.upstream}`,
    );
    await page.waitForFunction(`document.getElementById('cache-ratio').textContent.includes('%')`);
    // The history has points with traffic in them: the request sparkline is drawn.
    await page.waitForFunction(`Number(document.getElementById('spark-ops').getAttribute('data-points')) >= 2`);

    const errors = await text(page, '#error-rows');
    expect(errors).toContain('GRAPHQL_VALIDATION_FAILED');
    const body = await text(page, 'body');
    expect(body).not.toContain('noSuchField');
    expect(await text(page, '#env-rows')).toMatch(/test\s*ok\s*yes/);
    expect(await number(page, '#licences-held')).toBe(1);
    expect(await text(page, '#watcher-lag')).toBe('off');
    // Everything the page needs comes from the subgraph itself.
    expect(blocked).toEqual([]);
    expect(scriptErrors).toEqual([]);
    expect(await text(page, '#error')).toBe('');
    await screenshot(page, 'status');
    await page.close();
  });

  it('refuses the page without the operator token, and lets a browser in once it opened it with ?token=', async () => {
    const page = await chromium.browser.newPage();
    const refused = await page.goto(`${guarded.url}/status`);
    expect(refused?.status()).toBe(401);
    expect(await text(page, 'body')).toContain('operator token is required');
    expect(await page.$('#env-rows')).toBeNull();

    const wrong = await page.goto(`${guarded.url}/status?token=not-the-operator-token`);
    expect(wrong?.status()).toBe(401);

    const admitted = await page.goto(`${guarded.url}/status?token=${TOKEN}`);
    expect(admitted?.status()).toBe(200);
    expect(new URL(page.url()).search).toBe('');
    await page.waitForFunction('Number(document.body.dataset.updates) >= 1');
    expect(await text(page, '#error')).toBe('');
    const cookies = await page.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'wsz_operator', httpOnly: true, sameSite: 'Strict' });
    expect(cookies[0]!.value).not.toContain(TOKEN);
    await page.close();
  });
});
