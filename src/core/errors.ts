// Every error the user can see is one of these classes, so the UI and CLI can say
// what went wrong and where without parsing messages.

export class WebtuneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A safetensors file that cannot be read: names the file and, where known, the tensor. */
export class SafetensorsError extends WebtuneError {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor ? ` [${tensor}]` : ''}: ${message}`);
  }
}

/** config.json that is not a Qwen2 model we can run, or weights that do not fit it. */
export class ModelConfigError extends WebtuneError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface DatasetIssue {
  /** 1-based line for JSONL, 0-based array index for JSON arrays. */
  line?: number;
  index?: number;
  field?: string;
  message: string;
}

/** Raised when an import has no usable rows; the individual problems travel with it. */
export class DatasetError extends WebtuneError {
  constructor(
    readonly file: string,
    readonly issues: DatasetIssue[],
  ) {
    super(`${file}: ${issues.length} problem(s): ` + issues.slice(0, 5).map(formatIssue).join('; '));
  }
}

export function formatIssue(i: DatasetIssue): string {
  const where = i.line !== undefined ? `line ${i.line}` : i.index !== undefined ? `row ${i.index + 1}` : '';
  return [where, i.field ? `field "${i.field}"` : '', i.message].filter(Boolean).join(', ');
}

export interface SchemaIssue {
  /** The tool's name, or its place ("tools[2]") when it has no usable name. */
  tool?: string;
  /** Path inside the tool (or the file, without a tool): "function.parameters.required[1]". */
  field?: string;
  /** 1-based line, for text that is not JSON. */
  line?: number;
  message: string;
}

/** A tool schema that cannot be used; every problem found travels with it. */
export class SchemaError extends WebtuneError {
  constructor(
    readonly file: string,
    readonly issues: SchemaIssue[],
  ) {
    super(`${file}: ${issues.length} problem(s): ` + issues.slice(0, 5).map(formatSchemaIssue).join('; '));
  }
}

export function formatSchemaIssue(i: SchemaIssue): string {
  return [
    i.line !== undefined ? `line ${i.line}` : '',
    i.tool !== undefined ? `tool ${JSON.stringify(i.tool)}` : '',
    i.field ? `field "${i.field}"` : '',
    i.message,
  ]
    .filter(Boolean)
    .join(', ');
}

export class TokenizerError extends WebtuneError {}

/** Engine failures: bad shapes, NaN/Inf, device lost, out of memory. */
export class EngineError extends WebtuneError {}
/** A NaN or infinite loss or gradient in a step; that step's update was not applied. The cause is the caller's to say (train/health.ts). */
export class NonFiniteError extends EngineError {
  constructor(
    readonly what: string,
    readonly step: number,
  ) {
    super(`non-finite ${what} at step ${step}`);
  }
}

/** A run that went wrong numerically, with advice that matches why: the learning rate, or the model before any update. */
export class DivergedError extends EngineError {
  constructor(
    message: string,
    readonly step: number,
    readonly reason: 'update-exploded' | 'nonfinite-before-update' | 'nonfinite-after-updates',
  ) {
    super(message);
  }
}

/** A stored tensor holding NaN or infinity: names the file, the tensor and the first bad element. */
export class NonFiniteWeightError extends WebtuneError {
  constructor(
    readonly file: string,
    readonly tensor: string,
    readonly index: number,
    readonly value: string,
    readonly coordinates?: number[],
  ) {
    super(
      `${file} [${tensor}]: element ${index}${coordinates ? ` (${coordinates.join(', ')})` : ''} is ${value}; the weights are damaged (download or export them again)`,
    );
  }
}
export class DeviceLostError extends EngineError {}
export class OutOfMemoryError extends EngineError {
  constructor(
    message: string,
    readonly plannedBytes: number,
    readonly availableBytes: number,
  ) {
    super(message);
  }
}
export class GpuValidationError extends EngineError {}

/** Network and cache failures while fetching model files. */
export class DownloadError extends WebtuneError {
  constructor(
    readonly url: string,
    readonly kind: 'http' | 'not-found' | 'cors' | 'network' | 'integrity' | 'size' | 'quota' | 'aborted',
    message: string,
  ) {
    super(`${url}: ${message}`);
  }
}

export class AdapterError extends WebtuneError {}
/** An evaluation that cannot give a meaningful score (no rows, or none that fits the model). */
export class EvaluationError extends WebtuneError {}
export class CheckpointError extends WebtuneError {}
/** A checkpoint that did not fit (browser storage quota, a full disk): training goes on without it. */
export class CheckpointSpaceError extends CheckpointError {
  constructor(
    readonly bytes: number,
    message: string,
  ) {
    super(message);
  }
}

/** A model source the user typed that cannot be used (repo name, revision, URL). */
export class ModelSourceError extends WebtuneError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A model folder or cached model that lacks a file or holds one that is not what its name says. */
export class ModelFilesError extends WebtuneError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}
