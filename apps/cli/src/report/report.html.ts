import { AUTO_QUANT_NOTE, autoQuantLines } from './report.auto';
import {
  BEST_HEADERS,
  CONFIG_SEARCH_NOTE,
  POINT_HEADERS,
  bestCells,
  configSearchHeadline,
  deviceSummary,
  overallText,
  pointCells,
  skipText,
  type ConfigPointRow,
  type ConfigSearchReport,
  type DeviceConfigSearch,
} from './report.config-search';
import { configLabel } from '@benchfarm/suite';
import { accuracyValue, rankingLatencyMs, type SweepReport } from './report.model';
import type { ReportRow } from './report.types';
import { PARETO_NOTE, REPORT_COLUMNS, TIE_NOTE, policyLine } from './report.text';

const MB = 1024 * 1024;
const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About five round tick values covering [min, max]. */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude) as number;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Axis {
  label: string;
  value: (r: ReportRow) => number | undefined;
  format: (v: number) => string;
  /** A 95% CI drawn as a whisker along this axis. */
  interval?: (r: ReportRow) => { low: number; high: number } | undefined;
  /** A reference line (e.g. the accuracy floor) drawn across the chart. */
  line?: { at: number; label: string };
}

const W = 460;
const H = 300;
const M = { left: 64, right: 16, top: 16, bottom: 44 };

function scale(values: number[]): { lo: number; hi: number } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.12 : Math.abs(hi) * 0.1 || 1;
  return { lo: Math.max(0, lo - pad), hi: hi + pad };
}

/**
 * A scatter of one device's variants: x and y per row, the Pareto front drawn as a line
 * through its points, the recommended variant ringed. Rows lacking x or y are left out and
 * listed under the chart.
 */
function scatter(title: string, rows: ReportRow[], x: Axis, y: Axis, recommended: string | undefined, chartId: string): string {
  const points = rows.filter((r) => x.value(r) !== undefined && y.value(r) !== undefined);
  const missing = rows.filter((r) => !points.includes(r)).map((r) => r.variant);
  if (points.length === 0) return `<p class="empty">${esc(title)}: no variant has both figures.</p>`;
  const xs = scale(points.map((r) => x.value(r) as number));
  const ys = scale([...points.flatMap((r) => [y.value(r) as number, ...(y.interval?.(r) ? [y.interval(r)?.low as number, y.interval(r)?.high as number] : [])]), ...(y.line ? [y.line.at] : [])]);
  const px = (v: number): number => M.left + ((v - xs.lo) / (xs.hi - xs.lo)) * (W - M.left - M.right);
  const py = (v: number): number => H - M.bottom - ((v - ys.lo) / (ys.hi - ys.lo)) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (const t of ticks(xs.lo, xs.hi)) {
    parts.push(`<line class="grid" x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}"/><text class="tick" x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(x.format(t))}</text>`);
  }
  for (const t of ticks(ys.lo, ys.hi)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}"/><text class="tick" x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${esc(y.format(t))}</text>`);
  }
  parts.push(`<text class="axis" x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">${esc(x.label)}</text>`);
  parts.push(`<text class="axis" transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(y.label)}</text>`);
  if (y.line) {
    parts.push(`<line class="floor" x1="${M.left}" x2="${W - M.right}" y1="${py(y.line.at)}" y2="${py(y.line.at)}"/><text class="tick" x="${W - M.right - 4}" y="${py(y.line.at) - 4}" text-anchor="end">${esc(y.line.label)}</text>`);
  }
  for (const r of points) {
    const ci = y.interval?.(r);
    if (ci) parts.push(`<line class="whisker ci" x1="${px(x.value(r) as number)}" x2="${px(x.value(r) as number)}" y1="${py(ci.low)}" y2="${py(ci.high)}"><title>${esc(`${r.variant}: 95% CI [${y.format(ci.low)}, ${y.format(ci.high)}]`)}</title></line>`);
  }
  const front = points.filter((r) => r.pareto).sort((a, b) => (x.value(a) as number) - (x.value(b) as number));
  if (front.length > 1) parts.push(`<polyline class="front" points="${front.map((r) => `${px(x.value(r) as number)},${py(y.value(r) as number)}`).join(' ')}"/>`);
  points.forEach((r, i) => {
    const cx = px(x.value(r) as number);
    const cy = py(y.value(r) as number);
    const color = PALETTE[i % PALETTE.length];
    const tip = `${r.variant} on ${r.device}: ${x.label} ${x.format(x.value(r) as number)}, ${y.label} ${y.format(y.value(r) as number)}${r.pareto ? ' (Pareto)' : ''}`;
    if (r.variant === recommended) parts.push(`<circle class="recommended" cx="${cx}" cy="${cy}" r="11"/>`);
    parts.push(`<circle class="point${r.pareto ? ' pareto' : ''}" data-variant="${esc(r.variant)}" cx="${cx}" cy="${cy}" r="6" fill="${color}"><title>${esc(tip)}</title></circle>`);
    parts.push(`<text class="label" x="${cx + 9}" y="${cy - 8}">${esc(r.variant)}</text>`);
  });
  const note = missing.length > 0 ? `<p class="note">Not plotted (figure not measured): ${esc(missing.join(', '))}.</p>` : '';
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" data-chart="${esc(chartId)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>${note}</figure>`;
}

/** Horizontal bars of one figure for every row (variant @ device), with a whisker to a second figure (e.g. p90). */
function bars(title: string, rows: ReportRow[], value: Axis, whisker: Axis | undefined, chartId: string): string {
  const shown = rows.filter((r) => value.value(r) !== undefined);
  if (shown.length === 0) return `<p class="empty">${esc(title)}: nothing measured.</p>`;
  const barH = 22;
  const left = 190;
  const height = M.top + shown.length * (barH + 8) + 36;
  const max = Math.max(...shown.map((r) => Math.max(value.value(r) as number, whisker?.value(r) ?? 0))) * 1.1;
  const px = (v: number): number => left + (v / max) * (W + 160 - left - M.right);
  const parts: string[] = [];
  for (const t of ticks(0, max)) {
    parts.push(`<line class="grid" x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${height - 30}"/><text class="tick" x="${px(t)}" y="${height - 16}" text-anchor="middle">${esc(value.format(t))}</text>`);
  }
  const devices = [...new Set(shown.map((r) => r.device))];
  shown.forEach((r, i) => {
    const y = M.top + i * (barH + 8);
    const v = value.value(r) as number;
    const color = PALETTE[devices.indexOf(r.device) % PALETTE.length];
    parts.push(`<text class="tick" x="${left - 6}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(`${r.variant} @ ${r.device}`)}</text>`);
    parts.push(`<rect class="bar" data-variant="${esc(r.variant)}" x="${left}" y="${y}" width="${Math.max(1, px(v) - left)}" height="${barH}" fill="${color}"><title>${esc(`${r.variant} on ${r.device}: ${value.format(v)}`)}</title></rect>`);
    const w = whisker?.value(r);
    if (whisker && w !== undefined) parts.push(`<line class="whisker" x1="${px(v)}" x2="${px(w)}" y1="${y + barH / 2}" y2="${y + barH / 2}"><title>${esc(`${whisker.label} ${whisker.format(w)}`)}</title></line><line class="whisker" x1="${px(w)}" x2="${px(w)}" y1="${y + 5}" y2="${y + barH - 5}"/>`);
    parts.push(`<text class="value" x="${px(v) + 4}" y="${y + barH / 2 + 4}">${esc(value.format(v))}</text>`);
  });
  const width = W + 160;
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" data-chart="${esc(chartId)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg></figure>`;
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const LATENCY: Axis = { label: 'p50 latency (ms)', value: rankingLatencyMs, format: ms };
const P90: Axis = { label: 'p90', value: (r) => r.p90Ms, format: (v) => `${ms(v)} ms` };
const SIZE: Axis = { label: 'model size (MB)', value: (r) => (r.sizeBytes === undefined ? undefined : r.sizeBytes / MB), format: (v) => v.toFixed(2) };
const FIDELITY: Axis = { label: 'fidelity (cosine to fp32)', value: (r) => r.fidelity, format: (v) => v.toFixed(4), interval: (r) => r.fidelityCi };
/** The row's accuracy on real images (its floor / task metric), with its bootstrap CI over images. */
function accuracyAxis(report: SweepReport, rows: ReportRow[]): Axis {
  const metric = rows.find((r) => accuracyValue(r) !== undefined)?.accuracy?.metric ?? 'accuracy';
  const floor = report.accuracyFloor?.metric === metric ? report.accuracyFloor : undefined;
  return {
    label: `${metric} (real images)`,
    value: accuracyValue,
    format: (v) => v.toFixed(3),
    interval: (r) => (accuracyValue(r) === undefined ? undefined : r.accuracy?.ci),
    ...(floor ? { line: { at: floor.value, label: `floor ${floor.value}${floor.source === 'default' ? ' (default)' : ''}` } } : {}),
  };
}
const ENERGY: Axis = { label: 'energy per inference (mJ)', value: (r) => (r.energyPerInferenceJoules === undefined ? undefined : r.energyPerInferenceJoules * 1000), format: (v) => v.toFixed(2) };

const CW = 560;
const CH = 320;

/** What a point's line is: its variant and every setting but the intra-op thread count. */
function seriesOf(p: ConfigPointRow): string {
  if (!p.settings) return p.variant;
  return `${p.variant} ${configLabel({ ...p.settings, intraOpThreads: 0 }).replace(' t=default', '')}`;
}

const threadsText = (t: number): string => (t === 0 ? 'default' : String(t));

/**
 * One device's points: p50 latency (95% CI whisker where the point has one) by intra-op threads,
 * one line per variant and remaining settings (provider, graph level, ...). Points whose p99
 * misses the latency bound are drawn hollow; the device's best overall is ringed. Points not
 * measured, or without their settings in the result, are listed under the chart.
 */
function configChart(d: DeviceConfigSearch): string {
  const title = `${d.device}: p50 latency by intra-op threads, one line per variant and provider / graph level${d.latencyBoundMs !== undefined ? ` (hollow: p99 over ${d.latencyBoundMs} ms or not reportable)` : ''}`;
  const drawn = d.points.filter((p) => p.measured && p.p50Ms !== undefined && p.settings);
  const left = d.points.filter((p) => p.measured && !drawn.includes(p)).map((p) => `${p.variant} ${p.label}`);
  if (drawn.length === 0) return `<p class="empty">${esc(`${d.device}: no measured point to chart.`)}</p>`;
  const threads = [...new Set(drawn.map((p) => p.settings?.intraOpThreads as number))].sort((a, b) => a - b);
  const ys = scale(drawn.flatMap((p) => [p.p50Ms as number, ...(p.p50CiMs ? [p.p50CiMs.low, p.p50CiMs.high] : [])]));
  const inner = CW - M.left - M.right;
  const px = (t: number): number => M.left + (threads.length === 1 ? inner / 2 : (threads.indexOf(t) / (threads.length - 1)) * (inner - 40) + 20);
  const py = (v: number): number => CH - M.bottom - ((v - ys.lo) / (ys.hi - ys.lo)) * (CH - M.top - M.bottom);
  const parts: string[] = [];
  for (const t of threads) {
    parts.push(`<line class="grid" x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${CH - M.bottom}"/><text class="tick" x="${px(t)}" y="${CH - M.bottom + 16}" text-anchor="middle">${esc(threadsText(t))}</text>`);
  }
  for (const t of ticks(ys.lo, ys.hi)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${CW - M.right}" y1="${py(t)}" y2="${py(t)}"/><text class="tick" x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${esc(ms(t))}</text>`);
  }
  parts.push(`<text class="axis" x="${(M.left + CW - M.right) / 2}" y="${CH - 6}" text-anchor="middle">intra-op threads</text>`);
  parts.push(`<text class="axis" transform="translate(14 ${(M.top + CH - M.bottom) / 2}) rotate(-90)" text-anchor="middle">p50 latency (ms)</text>`);
  const series = [...new Set(drawn.map(seriesOf))];
  const legend: string[] = [];
  series.forEach((name, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const pts = drawn.filter((p) => seriesOf(p) === name).sort((a, b) => (a.settings?.intraOpThreads as number) - (b.settings?.intraOpThreads as number));
    if (pts.length > 1) parts.push(`<polyline class="series" data-series="${esc(name)}" stroke="${color}" points="${pts.map((p) => `${px(p.settings?.intraOpThreads as number)},${py(p.p50Ms as number)}`).join(' ')}"/>`);
    for (const p of pts) {
      const cx = px(p.settings?.intraOpThreads as number);
      const cy = py(p.p50Ms as number);
      if (p.p50CiMs) parts.push(`<line class="whisker ci" x1="${cx}" x2="${cx}" y1="${py(p.p50CiMs.low)}" y2="${py(p.p50CiMs.high)}"/>`);
      if (d.best.variant === p.variant && d.best.configId === p.configId) parts.push(`<circle class="recommended" cx="${cx}" cy="${cy}" r="10"/>`);
      const over = p.meetsBound === false;
      const tip = `${p.variant} ${p.label} (${p.configId}): p50 ${(p.p50Ms as number).toFixed(3)} ms${p.p50CiMs ? ` [${p.p50CiMs.low.toFixed(3)}, ${p.p50CiMs.high.toFixed(3)}]` : ''}, p99 ${p.p99Ms === undefined ? 'not reportable' : `${p.p99Ms.toFixed(3)} ms`}${over ? ', over the latency bound' : ''}${p.best ? ', best for the variant' : ''}`;
      parts.push(`<circle class="point config${over ? ' over' : ''}" data-config="${esc(p.configId)}" data-variant="${esc(p.variant)}" cx="${cx}" cy="${cy}" r="5" style="fill:${over ? '#fff' : color};stroke:${color}"><title>${esc(tip)}</title></circle>`);
    }
    legend.push(`<li><span class="swatch" style="background:${color}"></span>${esc(name)}</li>`);
  });
  const note = left.length > 0 ? `<p class="note">Not plotted (settings not in the result): ${esc(left.join(', '))}.</p>` : '';
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" data-chart="${esc(`config:${d.device}`)}" viewBox="0 0 ${CW} ${CH}" width="${CW}" height="${CH}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg><ul class="legend">${legend.join('')}</ul>${note}</figure>`;
}

function htmlTable(headers: string[], rows: string[][], cls: string): string {
  return `<table class="${cls}"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The runtime-settings section: per device the best per variant, the best overall, a chart, the skips and every point. */
function configSearchHtml(cs: ConfigSearchReport): string {
  const devices = cs.devices.map((d) => {
    const parts = [`<h3>${esc(d.device)}</h3>`, `<p class="meta">${esc(deviceSummary(d))}</p>`];
    if (d.variants.length > 0) {
      parts.push(htmlTable(BEST_HEADERS, d.variants.map((v) => bestCells(d, v)), 'config-best'));
      parts.push(`<ul>${d.variants.map((v) => `<li class="gain verdict-${esc(v.verdict)}">${esc(`${v.variant}: ${v.gain}${v.note ? `; ${v.note}` : ''}`)}</li>`).join('')}</ul>`);
    }
    parts.push(`<p class="overall">${esc(overallText(d, cs.accuracyFloor))}</p>`);
    parts.push(configChart(d));
    if (d.skipped.length > 0) parts.push(`<p><b>Skipped</b></p><ul class="skipped">${d.skipped.map((s) => `<li>${esc(skipText(s))}</li>`).join('')}</ul>`);
    if (d.notes.length > 0) parts.push(`<ul class="notes">${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
    if (d.points.length > 0) parts.push(htmlTable(POINT_HEADERS, d.points.map(pointCells), 'config-points'));
    return parts.join('\n');
  });
  return `<h2>Runtime settings per device</h2>\n<p class="meta">${esc(configSearchHeadline(cs))}</p>\n${devices.join('\n')}\n<p class="meta">${esc(CONFIG_SEARCH_NOTE)}</p>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#1b1e23;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #e5e5e5;text-align:right}
th:nth-child(-n+4),td:nth-child(-n+4){text-align:left}tr.pareto td:first-child{font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:18px}figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
svg.chart{background:#fafafa;border:1px solid #e5e5e5;border-radius:4px}
.grid{stroke:#e3e3e3}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.label{font-size:11px;fill:#222}.value{font-size:11px;fill:#333}
.point{stroke:#fff;stroke-width:1.5}.point.pareto{stroke:#111;stroke-width:2}.front{fill:none;stroke:#111;stroke-dasharray:4 3;stroke-width:1.5}
.recommended{fill:none;stroke:#d62728;stroke-width:2.5}.whisker{stroke:#111;stroke-width:1.5}.floor{stroke:#d62728;stroke-dasharray:6 4;stroke-width:1.2}
.empty,.note{color:#8a5a00}.rec{font-weight:600;color:#14632d}
.series{fill:none;stroke-width:1.8}.point.config{stroke-width:1.8}.legend{list-style:none;padding:0;margin:4px 0;font-size:12px;columns:2}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}.overall{font-weight:600}
table.config-best td:nth-child(-n+3),table.config-points td:nth-child(-n+3){text-align:left}table.config-points td:last-child{text-align:left}
`;

/**
 * The report as one self-contained HTML page: tables and inline SVG charts (no script, no
 * external resource), so it can be mailed, archived or opened offline.
 */
export function reportHtml(report: SweepReport): string {
  const devices = [...new Set(report.rows.map((r) => r.device))].sort();
  const recOf = (device: string): string | undefined => report.recommendations.find((r) => r.device === device)?.variant;
  const anyFidelity = report.rows.some((r) => r.fidelity !== undefined);
  const anyAccuracy = report.rows.some((r) => accuracyValue(r) !== undefined);
  const anyEnergy = report.rows.some((r) => r.energyPerInferenceJoules !== undefined);
  const perDevice = devices
    .map((device) => {
      const rows = report.rows.filter((r) => r.device === device);
      const measured = rows.find((r) => accuracyValue(r) !== undefined)?.accuracy;
      const onRandom = rows.some((r) => r.fidelityOn === 'random_inputs');
      const charts = [
        scatter(`${device}: latency vs size (Pareto front dashed, recommended ringed)`, rows, LATENCY, SIZE, recOf(device), `pareto-size:${device}`),
        measured
          ? scatter(`${device}: accuracy vs latency, ${measured.inputs}, n = ${measured.images} images, whiskers: 95% CI`, rows, LATENCY, accuracyAxis(report, rows), recOf(device), `accuracy:${device}`)
          : anyAccuracy
            ? `<p class="empty">${esc(device)}: accuracy not measured on this device.</p>`
            : '',
        anyFidelity
          ? scatter(`${device}: latency vs fidelity ${onRandom ? 'on RANDOM inputs (not accuracy)' : 'on real images'}`, rows, LATENCY, { ...FIDELITY, label: `fidelity (cosine to fp32, ${onRandom ? 'random inputs' : 'real images'})` }, recOf(device), `pareto-fidelity:${device}`)
          : '',
        anyEnergy ? scatter(`${device}: energy vs latency`, rows, LATENCY, ENERGY, recOf(device), `energy:${device}`) : '',
      ];
      return `<h3>${esc(device)}</h3><div class="charts">${charts.join('')}</div>`;
    })
    .join('');
  const absent = [
    anyAccuracy ? '' : 'Accuracy was not measured on real images in this sweep (no evaluation dataset), so there is no accuracy chart.',
    anyFidelity ? '' : 'Fidelity was not measured in this sweep, so the latency-vs-fidelity charts are left out.',
    anyEnergy ? '' : 'No result carries a power reading (no power sensor on these devices), so energy charts are left out; energy is never shown as 0.',
  ].filter(Boolean);
  const policy = esc(policyLine(report));
  const table = `<table><thead><tr>${REPORT_COLUMNS.map((c) => `<th>${esc(c.header)}</th>`).join('')}</tr></thead><tbody>${report.rows
    .map((r) => `<tr class="${r.pareto ? 'pareto' : ''}">${REPORT_COLUMNS.map((c) => `<td>${esc(c.value(r))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  const recs = `<table class="recs"><thead><tr><th>device</th><th>recommended</th><th>why</th></tr></thead><tbody>${report.recommendations
    .map((r) => `<tr><td>${esc(r.device)}</td><td class="rec">${esc(r.variant ?? 'none')}</td><td style="text-align:left">${r.tiedWith ? `<b>tied</b> with ${esc(r.tiedWith.join(', '))}: ` : ''}${esc(r.reason)}</td></tr>`)
    .join('')}</tbody></table>`;
  const notes = [...new Set(report.rows.flatMap((r) => r.unmeasured))];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>benchfarm report: ${esc(report.name || report.sweepId)}</title><style>${STYLE}</style></head>
<body>
<h1>benchfarm report: ${esc(report.name || report.sweepId)}</h1>
<p class="meta">Sweep <code>${esc(report.sweepId)}</code> of model <code>${esc(report.model)}</code>, created ${esc(report.createdAt)}, ${esc(report.state)}. ${report.rows.length} variant x device results on ${devices.length} device(s).</p>
<p class="meta accuracy-note">${esc(report.accuracyNote)}</p>
${
  report.rows.length === 0 && report.configSearch
    ? '<p class="note">No variant was measured under the sweep\'s own settings: this sweep is a runtime-settings search, reported below.</p>'
    : `<h2>Recommended variant per device (${policy})</h2>
${recs}
<h2>Trade-offs per device: latency, size, accuracy</h2>
${absent.map((a) => `<p class="note">${esc(a)}</p>`).join('')}
${perDevice}`
}
${report.autoQuant ? `<h2>int8-auto</h2><p class="note">${esc(AUTO_QUANT_NOTE)}</p>${report.autoQuant.map((s) => `<ul class="auto">${autoQuantLines(s).map((l) => `<li${l.startsWith('  ') ? ' style="margin-left:1.5em"' : ''}>${esc(l.trim())}</li>`).join('')}</ul>`).join('')}` : ''}
${report.configSearch ? configSearchHtml(report.configSearch) : ''}
${
  report.rows.length === 0 && report.configSearch
    ? ''
    : `<h2>Latency and throughput</h2>
<div class="charts">${bars('p50 latency, whisker to p90', report.rows, { ...LATENCY, format: (v) => `${ms(v)} ms` }, P90, 'latency-bars')}${bars('Throughput (queries/s)', report.rows, { label: 'qps', value: (r) => r.throughputQps, format: (v) => v.toFixed(0) }, undefined, 'throughput-bars')}</div>
<h2>Variant x device</h2>
${table}`
}
${notes.length > 0 ? `<h2>Not measured</h2><ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<p class="meta">A percentile is shown only where the sample count supports it (MLPerf early stopping: p90 needs 64 queries, p99 662). ${esc(PARETO_NOTE)} ${esc(TIE_NOTE)} Generated by <code>benchfarm report --format html</code>.</p>
</body></html>
`;
}
