/**
 * Headless Chromium for the browser tests: Debian's `chromium` (never a browser download) driven
 * by puppeteer-core, a fresh profile per launch. Where no Chromium is installed the browser tests
 * skip with a notice, except under `CI`, where a missing Chromium fails them (`.ci/run` installs it).
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** The Chromium binary: `CHROMIUM_PATH`, default Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Whether the browser tests run: Chromium is installed, or `CI` is set (and then a missing one fails). */
export const BROWSER_TESTS = existsSync(CHROMIUM_PATH) || Boolean(process.env.CI);

if (!existsSync(CHROMIUM_PATH)) {
  const notice = process.env.CI
    ? `Chromium not found at ${CHROMIUM_PATH}: with CI set the browser tests fail (.ci/run installs Debian's chromium)`
    : `browser tests SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`;
  console.warn(notice);
}

/** Where screenshots go (git-ignored). */
export const SCREENSHOTS = join(process.cwd(), '.ci-results', 'screenshots');

export interface TestBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh `--user-data-dir`. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}; install Debian's chromium (apt-get install -y chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'wsz-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Cuts the page off the network: every request to another origin than `origin` is aborted
 * (`data:`/`blob:` URLs are not network requests). Returns the URLs that were blocked.
 */
export async function cutOffNetwork(page: Page, origin: string): Promise<string[]> {
  const blocked: string[] = [];
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin) {
      void request.continue();
    } else {
      blocked.push(url);
      void request.abort('internetdisconnected');
    }
  });
  return blocked;
}

/** Saves a full-page screenshot as `.ci-results/screenshots/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
