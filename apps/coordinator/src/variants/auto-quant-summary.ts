// What of int8-auto's AutoQuantReport a sweep keeps. The full report (every layer,
// every search step) is not kept by the coordinator: the work folder it was derived in is
// deleted with the sweep's scratch files, and a variant's recipe crosses to the agents in every
// job message (and the comparison job carries every variant's recipe), so a table of ~80
// layers there would be sent with every job. A sweep keeps a compact `sensitivity` entry with
// the layers that decided the search; `benchfarm variants --sensitivity` prints the whole table.
import type { AutoQuantReport, LayerSensitivity } from '@benchfarm/onnx';

/** Layers named in the `sensitivity` recipe entry, at most. */
export const SENSITIVITY_RECIPE_LAYERS = 8;

const share = (l: LayerSensitivity): string => `${(l.timeShare * 100).toFixed(1)}%`;
// NaN crosses the derive child's IPC (JSON) as null: absent, never a number.
const cosine = (l: LayerSensitivity): string => (typeof l.cosine === 'number' && Number.isFinite(l.cosine) ? l.cosine.toFixed(4) : 'n/a');
const state = (l: LayerSensitivity): string => (l.quantized === undefined ? '' : l.quantized ? ' int8' : ' float');

/**
 * The `sensitivity` recipe entry of an int8-auto variant: how many layers were ranked and on
 * how many images, then the `max` layers that cost the most accuracy when quantized alone
 * (lowest cosine to fp32), each with its share of the fp32 kernel time and whether the chosen
 * model quantizes it, then the layers with the largest time shares not listed yet.
 */
export function sensitivityRecipeEntry(report: AutoQuantReport, max = SENSITIVITY_RECIPE_LAYERS): string {
  const layers = [...report.layers];
  const cos = (l: LayerSensitivity): number => (typeof l.cosine === 'number' && Number.isFinite(l.cosine) ? l.cosine : -Infinity);
  const sensitive = [...layers].sort((a, b) => cos(a) - cos(b) || a.rank - b.rank).slice(0, Math.ceil(max / 2));
  const listed = new Set(sensitive.map((l) => l.node));
  const heavy = [...layers].sort((a, b) => b.timeShare - a.timeShare || a.rank - b.rank).filter((l) => !listed.has(l.node)).slice(0, max - sensitive.length);
  const item = (l: LayerSensitivity): string => `${l.node} (${l.opType}, rank ${l.rank}) cos ${cosine(l)}, ${share(l)} time${state(l)}`;
  return [
    `${layers.length} layers ranked for the search (rank 1 quantized first; cosine to fp32 with the layer alone quantized, on ${report.searchImages} search images)`,
    `most sensitive alone: ${sensitive.map(item).join('; ') || 'none'}`,
    `largest time shares: ${heavy.map(item).join('; ') || 'none'}`,
  ].join(' | ');
}
