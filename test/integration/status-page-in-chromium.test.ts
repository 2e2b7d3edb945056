/**
 * GET / in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser is downloaded): the page loads, every chart is
 * drawn with data from /stats and /bloom/stats, and nothing is logged as an
 * error in the console.
 *
 * Skipped ONLY when /usr/bin/chromium is missing (`apt-get install -y chromium`;
 * .ci/run installs it).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/in-process-service.js';
import { uniqueMemoryUrl } from '../helpers/redis-namespace.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`status page browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const CHARTS = ['lookups', 'avoided', 'fill', 'fpr', 'items', 'rebuilds'];

/** The little of the DOM the page functions below touch (the project's tsconfig has no DOM lib). */
interface PageCanvas {
  width: number;
  height: number;
  getAttribute(name: string): string | null;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
type PageGlobal = { document: { getElementById(id: string): PageCanvas | null } };

describe.skipIf(!hasChromium)('status page in headless Chromium', () => {
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bloomgate-page-'));
    writeFileSync(join(dir, 'products.txt'), Array.from({ length: 500 }, (_, i) => `SKU-${i}`).join('\n') + '\n');
    svc = await startTestService({ REDIS_URL: uniqueMemoryUrl() }, dir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });

  it('loads, draws every chart with data, and logs no console error', async () => {
    const errors: string[] = [];
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));

    // Traffic of every kind, before and while the page polls.
    const traffic = async () => {
      for (let i = 0; i < 50; i++) {
        await svc.get(`/products/SKU-${i}`);
        await svc.get(`/products/absent-${i}`);
      }
    };
    await traffic();
    const response = await page.goto(`${svc.url}/`);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('bloomgate status');
    await traffic();

    // Two polls at least, so the per-second rates have a previous sample.
    await page.waitForFunction(
      // Cast (here and below): this runs in the page, whose globals the DOM-less tsconfig does not type.
      (ids) => ids.every((id) => Number((globalThis as unknown as PageGlobal).document.getElementById(`c-${id}`)?.getAttribute('data-points')) >= 2),
      CHARTS,
      { timeout: 20_000 },
    );
    for (const id of CHARTS) {
      // Pixels of the series colours in the plot area: the chart really drew lines.
      const inked = await page.evaluate((chartId) => {
        // Cast: runs in the page (see above); a serialized callback cannot call a typed helper.
        const canvas = (globalThis as unknown as PageGlobal).document.getElementById(`c-${chartId}`)!;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
          if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
        return coloured;
      }, id);
      expect(inked, `chart ${id} has coloured pixels`).toBeGreaterThan(20);
    }
    expect(await page.textContent('#items')).toBe('500');
    expect(await page.textContent('#error')).toBe('');
    const legend = await page.textContent('#l-lookups');
    expect(legend).toContain('filter rejected');
    expect(errors).toEqual([]);
    await page.close();
  });
});
