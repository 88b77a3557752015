// int8-auto in a sweep report: what the coordinator's search chose and measured on the
// machine that derived the variant (its recipe), next to what each device measured on the
// sweep's evaluation images. The device's figure is the one that counts: the best layer set can
// differ per execution provider, and the coordinator only checked its choice on its own CPU.
import type { SweepView } from '../client';
import type { ReportRow } from './report.types';

/** What one device measured of an int8-auto variant (the sweep's evaluation images, its own execution provider). */
export interface AutoQuantDevice {
  device: string;
  provider: string;
  /** Set when the device measured accuracy on real images. */
  metric?: string;
  value?: number;
  ci?: { low: number; high: number };
  images?: number;
  /** Whether `value` meets int8-auto's own floor; absent when the device's metric is not the floor's. */
  meetsFloor?: boolean;
  /** Why there is no figure. */
  reason?: string;
}

/** One int8-auto variant of a sweep: its recipe's summary of the search and each device's accuracy. */
export interface AutoQuantSummary {
  variant: string;
  /** The floor as the pass recorded it (`map50_agreement >= 0.95`). */
  floor?: string;
  /** Layers the chosen model keeps in float (every one, in graph order). */
  floatLayers: string[];
  /** `70 of 82 (93.1% of fp32 kernel time)`. */
  quantizedLayers?: string;
  searchImages?: number;
  holdoutImages?: number;
  /** The coordinator's check on the images it searched on (recipe `accuracy.search`). */
  coordinatorSearch?: string;
  /** The coordinator's check on held-out images (recipe `accuracy.holdout`). */
  coordinatorHoldout?: string;
  /** The compact sensitivity table the coordinator kept (recipe `sensitivity`). */
  sensitivity?: string;
  devices: AutoQuantDevice[];
}

/** The sentence every format puts above the int8-auto section. */
export const AUTO_QUANT_NOTE =
  "int8-auto: the coordinator chose the layers kept in float on its own CPU (its search and held-out check below); the accuracy each device measured on the sweep's evaluation images with its own execution provider is what counts, since the best layer set can differ per device.";

const count = (text: string | undefined): number | undefined => {
  const n = Number(text);
  return text !== undefined && text.trim() !== '' && Number.isInteger(n) && n >= 0 ? n : undefined;
};

/** `map50_agreement >= 0.95` as metric and value; undefined when the recipe says something else. */
export function parseAutoFloor(text: string | undefined): { metric: string; value: number } | undefined {
  const m = /^\s*([a-z0-9_]+)\s*>=\s*([0-9.]+)\s*$/.exec(text ?? '');
  const value = Number(m?.[2]);
  return m?.[1] && Number.isFinite(value) ? { metric: m[1], value } : undefined;
}

/**
 * The int8-auto variants of a sweep (recipe `pass` int8-auto), each with what the recipe says of
 * its search and with the accuracy of every report row of that variant.
 */
export function autoQuantSummaries(sweep: SweepView, rows: readonly ReportRow[]): AutoQuantSummary[] {
  return sweep.variants
    .filter((v) => v.recipe?.['pass'] === 'int8-auto')
    .map((v) => {
      const r = v.recipe;
      const floor = parseAutoFloor(r['floor']);
      const float = r['floatLayers'];
      const devices = rows
        .filter((row) => row.variant === v.name)
        .map((row): AutoQuantDevice => {
          const a = row.accuracy;
          const base = { device: row.device, provider: row.provider };
          if (!a || a.measuredOn !== 'real_images') return { ...base, reason: row.unmeasured.find((u) => u.startsWith('accuracy:'))?.slice('accuracy: '.length) ?? (a ? 'measured on random inputs only (fidelity, not accuracy)' : 'not measured') };
          if (a.value === undefined) return { ...base, ...(a.metric ? { metric: a.metric } : {}), reason: a.reason ?? 'not reported' };
          return {
            ...base,
            ...(a.metric ? { metric: a.metric } : {}),
            value: a.value,
            ...(a.ci ? { ci: a.ci } : {}),
            images: a.valueImages ?? a.images,
            ...(floor && a.metric === floor.metric ? { meetsFloor: a.value >= floor.value } : {}),
          };
        });
      return {
        variant: v.name,
        ...(r['floor'] !== undefined ? { floor: r['floor'] } : {}),
        floatLayers: float === undefined || float === 'none' || float === '' ? [] : float.split(','),
        ...(r['quantizedLayers'] !== undefined ? { quantizedLayers: r['quantizedLayers'] } : {}),
        ...(count(r['searchImages']) !== undefined ? { searchImages: count(r['searchImages']) } : {}),
        ...(count(r['holdoutImages']) !== undefined ? { holdoutImages: count(r['holdoutImages']) } : {}),
        ...(r['accuracy.search'] !== undefined ? { coordinatorSearch: r['accuracy.search'] } : {}),
        ...(r['accuracy.holdout'] !== undefined ? { coordinatorHoldout: r['accuracy.holdout'] } : {}),
        ...(r['sensitivity'] !== undefined ? { sensitivity: r['sensitivity'] } : {}),
        devices,
      };
    });
}

/** Float layers named in the text formats at most (JSON keeps all). */
const FLOAT_LAYERS_SHOWN = 10;

function floatText(s: AutoQuantSummary): string {
  if (s.floatLayers.length === 0) return 'none kept in float';
  const shown = s.floatLayers.slice(0, FLOAT_LAYERS_SHOWN).join(', ');
  const more = s.floatLayers.length - FLOAT_LAYERS_SHOWN;
  return `kept in float (${s.floatLayers.length}): ${shown}${more > 0 ? `, ... (${more} more)` : ''}`;
}

const images = (n: number | undefined): string => (n === undefined ? '' : ` (${n} images)`);

function deviceText(d: AutoQuantDevice, floor: string | undefined): string {
  const where = `on ${d.device}${d.provider ? ` (${d.provider})` : ''}`;
  if (d.value === undefined) return `${where}: ${d.metric ?? 'accuracy'} not measured: ${d.reason ?? 'not reported'}`;
  const digits = d.metric === 'cosine' ? 4 : 3;
  const figure = `${d.metric ?? 'accuracy'} ${d.value.toFixed(digits)}${d.ci ? ` [${d.ci.low.toFixed(digits)}, ${d.ci.high.toFixed(digits)}]` : ''} on ${d.images ?? '?'} real images`;
  const verdict = d.meetsFloor === undefined ? (floor ? `; int8-auto's floor (${floor}) is on another metric` : '') : d.meetsFloor ? `, meets int8-auto's floor (${floor ?? ''})` : `, BELOW int8-auto's floor (${floor ?? ''})`;
  return `${where}: ${figure}${verdict}`;
}

/** The lines of one int8-auto variant (floor, float layers, the coordinator's checks, each device), unindented. */
export function autoQuantLines(s: AutoQuantSummary): string[] {
  return [
    `${s.variant}: floor ${s.floor ?? 'not recorded'}; quantized ${s.quantizedLayers ?? 'layers not recorded'}; ${floatText(s)}`,
    `  coordinator, search${images(s.searchImages)}: ${s.coordinatorSearch ?? 'not recorded'}`,
    `  coordinator, held out${images(s.holdoutImages)}: ${s.coordinatorHoldout ?? 'not recorded'}`,
    ...(s.devices.length > 0 ? s.devices.map((d) => `  ${deviceText(d, s.floor)}`) : ['  no device measured it']),
  ];
}

/** The int8-auto section of the terminal report; empty when the sweep has no int8-auto variant. */
export function autoQuantText(summaries: readonly AutoQuantSummary[]): string[] {
  if (summaries.length === 0) return [];
  return ['', AUTO_QUANT_NOTE, ...summaries.flatMap(autoQuantLines)];
}
