/**
 * The dataset contract shared by the datasets module (upload, store, list) and the sweeps that
 * use datasets (calibration and evaluation). A dataset is complete or absent: a
 * record exists only once every image is stored and verified.
 */

/** One image of a stored dataset: an object in the farm's object store under its SHA-256. */
export interface DatasetImageRecord {
  /** Base file name as uploaded (unique within the dataset); images are kept sorted by it. */
  name: string;
  sha256: string;
  sizeBytes: number;
  width: number;
  height: number;
}

/** COCO-style labels of a dataset, stored as one JSON object in the object store. */
export interface DatasetLabelsRecord {
  sha256: string;
  sizeBytes: number;
  /** Images (by name) that have an entry in the labels. */
  labelledImages: number;
  annotations: number;
  categories: Array<{ id: number; name: string }>;
}

/** A complete, stored dataset. */
export interface DatasetRecord {
  /** SHA-256 of the dataset's manifest (images, labels, preprocessing): the same content gives the same id. */
  id: string;
  name: string;
  createdAtMs: number;
  /** Sorted by name. */
  images: DatasetImageRecord[];
  labels?: DatasetLabelsRecord;
  /** How images become the model input: a preset name (yolox, yolo, imagenet) or a config object; absent: the sweep must say. */
  preprocess?: string | Record<string, unknown>;
  totalBytes: number;
}

/** What sweeps need of the datasets module. */
export abstract class DatasetCatalog {
  /**
   * The dataset with this id (full digest or a unique prefix of at least 8 hex digits) or name.
   * Thrown: DomainError `dataset_not_found` with `field` set to the given field name.
   */
  abstract resolve(idOrName: string, field: string): Promise<DatasetRecord>;

  /**
   * Fetches the given images of a dataset from the object store into `dir` (verified against
   * their digests) and returns their paths in the same order. Thrown: DomainError
   * `messaging_unavailable` when the store cannot be read, `invalid_argument` for a corrupt object.
   */
  abstract materialize(images: readonly DatasetImageRecord[], dir: string): Promise<string[]>;

  /** The dataset's labels JSON (parsed), or undefined when it has none. */
  abstract readLabels(dataset: DatasetRecord): Promise<unknown>;
}
