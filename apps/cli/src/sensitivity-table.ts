// What `benchfarm variants` prints of int8-auto: the ranked per-layer sensitivity
// table, and int8-auto's search (floor, steps, accuracy on the search and held-out images).
// Pure formatting of an AutoQuantReport; the JSON output keeps the report whole.
import type { AutoQuantReport, LayerSensitivity } from '@benchfarm/onnx';
import { table } from './format';

// An AutoQuantReport that crossed a process boundary as JSON has null where it had NaN.
const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const fixed = (v: number | null | undefined, digits: number): string => (finite(v) ? v.toFixed(digits) : 'n/a');

function quantizedCell(l: LayerSensitivity): string {
  if (l.quantized === undefined) return '-';
  return l.quantized ? 'yes' : 'no (float)';
}

/**
 * The ranked sensitivity table: rank (search order, 1 quantized first), node, op, share of the
 * fp32 kernel time, fp32 and int8 kernel time per run and their difference (where profiled),
 * output cosine to fp32 and the floor metric with the layer alone quantized, the calibration
 * method chosen for it, whether int8-auto's chosen model quantizes it (absent for a table
 * measured alone), and why a layer was left
 * out of the search.
 */
export function sensitivityTable(report: AutoQuantReport): string {
  const withInt8 = report.layers.some((l) => finite(l.int8Us));
  const withNotes = report.layers.some((l) => l.reason);
  // A table measured alone (no search) quantizes nothing: the column would be all '-'.
  const withChoice = report.layers.some((l) => l.quantized !== undefined);
  const headers = [
    'rank',
    'node',
    'op',
    'time share %',
    'fp32 us',
    ...(withInt8 ? ['int8 us', 'saved us'] : []),
    'cosine alone',
    `${report.floor.metric} alone`,
    'method',
    ...(withChoice ? ['int8-auto quantizes'] : []),
    ...(withNotes ? ['note'] : []),
  ];
  const rows = report.layers.map((l) => [
    String(l.rank),
    l.node,
    l.opType,
    fixed(l.timeShare * 100, 2),
    fixed(l.fp32Us, 0),
    ...(withInt8 ? [fixed(l.int8Us, 0), fixed(l.gainUs, 0)] : []),
    fixed(l.cosine, 5),
    fixed(l.floorMetric, 4),
    l.method,
    ...(withChoice ? [quantizedCell(l)] : []),
    ...(withNotes ? [l.reason ?? ''] : []),
  ]);
  return table(headers, rows);
}

/** The lines above a sensitivity table: what was ranked, on what, and how. */
export function sensitivityHeading(report: AutoQuantReport, title: string): string[] {
  return [
    `${title}: ${report.layers.length} layers of a ${report.task} model, each quantized ALONE and compared with fp32 on ${report.searchImages} search images (${report.inputs})`,
    `  ranked by time saved per accuracy lost (share of fp32 kernel time, or measured fp32 - int8 time, per (1 - cosine)); rank 1 is quantized first; times are onnxruntime CPU profiles on this machine`,
  ];
}

/** int8-auto's search: its floor, each step tried, and the chosen set's accuracy on the search and held-out images. */
export function autoSearchText(report: AutoQuantReport): string {
  const floatCount = report.layers.filter((l) => l.quantized === false).length;
  const quantized = report.layers.filter((l) => l.quantized === true).length;
  const metric = report.floor.metric;
  const holdout = finite(report.holdoutMetric)
    ? `${metric} ${report.holdoutMetric.toFixed(4)}${finite(report.holdoutCosine) ? `, cosine ${report.holdoutCosine.toFixed(5)}` : ''} on ${report.holdoutImages} held-out images: floor ${report.holdoutMet ? 'met' : 'NOT met'}`
    : `not checked on held-out images (${report.holdoutImages} given)`;
  const steps = report.steps.map((s) => [s.step, String(s.quantized), fixed(s.floorMetric, 4), fixed(s.cosine, 5), s.accepted ? 'yes' : 'no']);
  return [
    `floor ${metric} >= ${report.floor.value} (${report.task}); ${quantized} layers quantized, ${floatCount} kept in float; ${report.seconds.toFixed(1)} s`,
    `  search (${report.searchImages} images): ${metric} ${fixed(report.searchMetric, 4)}`,
    `  held out: ${holdout}`,
    ...(steps.length > 0 ? ['', table(['step', 'layers quantized', metric, 'cosine', 'meets floor'], steps)] : []),
  ].join('\n');
}
