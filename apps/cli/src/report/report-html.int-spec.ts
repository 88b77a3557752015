// The HTML report's accuracy/latency chart drawn by a real headless Chromium (Debian package,
// driven by playwright-core), from a FABRICATED sweep view (report.fixture.ts): what is under
// test is the drawing, not the figures.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { configSearchSweep } from './report.config-search.fixture';
import { detectorSweep } from './report.fixture';
import { buildReport, reportHtml } from './index';

/** Opens `html` in a fresh headless Chromium and hands the page to `inspect`. */
async function inPage<T>(html: string, inspect: (page: Awaited<ReturnType<BrowserContext['newPage']>>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bf-report-html-'));
  const htmlPath = join(dir, 'report.html');
  writeFileSync(htmlPath, html);
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1180, height: 900 },
  });
  try {
    const page = await context.newPage();
    await page.goto(`file://${htmlPath}`);
    return await inspect(page);
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('runtime-settings chart in headless Chromium', () => {
  it('draws p50 by threads inside the chart, one line per variant and settings, threads left to right, points over the bound hollow', async () => {
    const chart = await inPage(reportHtml(buildReport(configSearchSweep())), (page) =>
      page.$eval('svg[data-chart="config:x86-1"]', (svg) => {
        const box = svg.getBoundingClientRect();
        const inside = (b: { left: number; right: number; top: number; bottom: number }): boolean => b.left >= box.left - 1 && b.right <= box.right + 1 && b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
        const points = [...svg.querySelectorAll('circle.point.config')].map((el) => {
          const b = el.getBoundingClientRect();
          // Runs in the page: the browser's getComputedStyle (the repo's TypeScript has no DOM lib).
          const style = (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string; stroke: string } }).getComputedStyle(el);
          return { variant: el.getAttribute('data-variant'), tip: el.querySelector('title')?.textContent ?? '', x: (b.left + b.right) / 2, y: (b.top + b.bottom) / 2, inside: inside(b), hollow: el.classList.contains('over'), fill: style.fill, stroke: style.stroke };
        });
        return { points, series: svg.querySelectorAll('polyline.series').length, legend: svg.closest('figure')?.querySelectorAll('ul.legend li').length ?? 0, ringed: svg.querySelectorAll('circle.recommended').length };
      }),
    );
    expect(chart.points).toHaveLength(8);
    for (const p of chart.points) expect(p.inside, p.tip).toBe(true);
    expect(chart.series).toBe(4);
    expect(chart.legend).toBe(4);
    expect(chart.ringed).toBe(1);
    expect(chart.points.filter((p) => p.hollow).map((p) => p.tip.split(':')[0])).toEqual([expect.stringContaining('fp32 cpu t2 all'), expect.stringContaining('int8-static cpu t1 basic')]);
    // Hollow: a white disc with the series' colour as its ring, so it shows on the white chart.
    for (const p of chart.points.filter((x) => x.hollow)) {
      expect(p.fill).toBe('rgb(255, 255, 255)');
      expect(p.stroke).not.toBe('rgb(255, 255, 255)');
    }
    const at = (label: string): { x: number; y: number } => chart.points.find((p) => p.tip.startsWith(label)) ?? { x: Number.NaN, y: Number.NaN };
    // One thread left of two; a lower p50 lower on screen (larger y).
    expect(at('fp32 cpu t1 basic').x).toBeLessThan(at('fp32 cpu t2 basic').x);
    expect(at('int8-static cpu t1 basic').y).toBeGreaterThan(at('fp32 cpu t1 basic').y);
  }, 60_000);
});

describe('HTML report in headless Chromium', () => {
  it('draws accuracy against latency per device with 95% CI whiskers, the floor and the recommendation ringed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-report-html-'));
    const htmlPath = join(dir, 'report.html');
    writeFileSync(htmlPath, reportHtml(buildReport(detectorSweep())));
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1180, height: 900 },
    });
    try {
      const page = await context.newPage();
      await page.goto(`file://${htmlPath}`);
      const chart = await page.$eval('svg[data-chart="accuracy:cpu-1"]', (svg) => {
        const box = svg.getBoundingClientRect();
        const inside = (el: { getBoundingClientRect(): { left: number; right: number; top: number; bottom: number } }): boolean => {
          const b = el.getBoundingClientRect();
          return b.left >= box.left - 1 && b.right <= box.right + 1 && b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
        };
        const points = [...svg.querySelectorAll('circle.point')].map((el) => ({ variant: el.getAttribute('data-variant'), y: el.getBoundingClientRect().top, inside: inside(el) }));
        const whiskers = [...svg.querySelectorAll('line.ci')].map((el) => inside(el));
        const floor = svg.querySelector('line.floor');
        return {
          caption: svg.closest('figure')?.querySelector('figcaption')?.textContent ?? '',
          points,
          whiskers,
          floorInside: floor ? inside(floor) : false,
          floorY: floor?.getBoundingClientRect().top ?? 0,
          ringed: svg.querySelectorAll('circle.recommended').length,
        };
      });
      expect(chart.caption).toContain('real images: dataset photos (9 of 13), n = 9 images');
      expect(chart.points.map((p) => p.variant).sort()).toEqual(['fp16', 'fp32', 'int8-dynamic', 'int8-static']);
      for (const p of chart.points) expect(p.inside, p.variant ?? '').toBe(true);
      expect(chart.whiskers.length).toBe(4);
      expect(chart.whiskers.every(Boolean)).toBe(true);
      expect(chart.floorInside).toBe(true);
      // int8-dynamic (agreement 0) is drawn below the floor line, int8-static above it (higher on screen = smaller y).
      const y = (v: string): number => chart.points.find((p) => p.variant === v)?.y ?? Number.NaN;
      expect(y('int8-dynamic')).toBeGreaterThan(chart.floorY);
      expect(y('int8-static')).toBeLessThan(chart.floorY);
      expect(chart.ringed).toBe(1);
      expect(await page.$$eval('td.rec', (cells) => cells.map((c) => c.textContent))).toEqual(['int8-static']);
    } finally {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
