/**
 * Mapping of the VS Code `schemaLsp.*` configuration onto the server's `schemaLsp` settings
 * object (sent as initializationOptions and in answer to workspace/configuration).
 *
 * The server merges its settings over `[tool.schema-lsp]` in pyproject.toml and alembic.ini,
 * and editor settings win. So only the settings the user set explicitly in VS Code are sent:
 * a VS Code default must not hide the project's own configuration.
 *
 * Pure logic: no `vscode` import.
 */

export type Severity = "error" | "warning" | "information" | "hint";

/** The settings the server understands (its `schemaLsp` section), all optional. */
export interface ServerSettings {
  models?: string[];
  databaseUrl?: string;
  migrations?: string;
  checkInterval?: number;
  compareType?: boolean;
  compareServerDefault?: boolean;
  includeSchemas?: boolean | string[];
  excludeTables?: string[];
  severity?: Record<string, Severity>;
  python?: string;
  previewOnSave?: boolean;
  importTimeout?: number;
  includeDestructive?: boolean;
  renderAsBatch?: boolean;
  processRevisionDirectives?: string;
}

/** The server's defaults, which the defaults declared in package.json must match. */
export const SERVER_DEFAULTS = {
  models: [] as string[],
  databaseUrl: "",
  migrations: "",
  checkInterval: 30,
  compareType: true,
  compareServerDefault: false,
  includeSchemas: false,
  excludeTables: [] as string[],
  severity: {} as Record<string, Severity>,
  python: "",
  previewOnSave: false,
  importTimeout: 10,
  includeDestructive: false,
  renderAsBatch: null as boolean | null,
  processRevisionDirectives: "",
} as const;

export type ServerKey = keyof typeof SERVER_DEFAULTS;
export const SERVER_KEYS = Object.keys(SERVER_DEFAULTS) as ServerKey[];

/**
 * Returns the value of `schemaLsp.<key>` when the user set it (at any level), else undefined.
 * In the extension this is built on `WorkspaceConfiguration.inspect`.
 */
export type ExplicitGetter = (key: string) => unknown;

const SEVERITIES: ReadonlySet<string> = new Set(["error", "warning", "information", "hint"]);

function asString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function asStringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  return value.filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim());
}

function asPositive(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Keeps only drift kinds mapped to a known severity (case-insensitive; "info" means "information"). */
export function normaliseSeverity(value: unknown): Record<string, Severity> | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return undefined;
  }
  const out: Record<string, Severity> = {};
  for (const [kind, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw !== "string") {
      continue;
    }
    let level = raw.trim().toLowerCase();
    if (level === "info") {
      level = "information";
    }
    if (SEVERITIES.has(level)) {
      out[kind] = level as Severity;
    }
  }
  return out;
}

/**
 * Builds the server settings from the explicitly set VS Code settings. Values of the wrong type
 * are dropped (the project's configuration or the server's default applies instead).
 * `python` is the interpreter the extension resolved and started the server with, so the server
 * imports the models with the same interpreter.
 */
export function toServerSettings(get: ExplicitGetter, resolvedPython: string | undefined): ServerSettings {
  const s: ServerSettings = {};
  const models = asStringList(get("models"));
  if (models !== undefined && models.length > 0) {
    s.models = models;
  }
  const url = asString(get("databaseUrl"));
  if (url !== undefined) {
    s.databaseUrl = url;
  }
  const migrations = asString(get("migrations"));
  if (migrations !== undefined) {
    s.migrations = migrations;
  }
  const interval = asPositive(get("checkInterval"));
  if (interval !== undefined) {
    s.checkInterval = interval;
  }
  const timeout = asPositive(get("importTimeout"));
  if (timeout !== undefined) {
    s.importTimeout = timeout;
  }
  const hook = asString(get("processRevisionDirectives"));
  if (hook !== undefined) {
    s.processRevisionDirectives = hook;
  }
  for (const key of [
    "compareType",
    "compareServerDefault",
    "previewOnSave",
    "includeDestructive",
    "renderAsBatch",
  ] as const) {
    const v = get(key);
    if (typeof v === "boolean") {
      s[key] = v;
    }
  }
  const schemas = get("includeSchemas");
  if (typeof schemas === "boolean") {
    s.includeSchemas = schemas;
  } else if (Array.isArray(schemas)) {
    s.includeSchemas = asStringList(schemas) ?? [];
  }
  const exclude = asStringList(get("excludeTables"));
  if (exclude !== undefined) {
    s.excludeTables = exclude;
  }
  const severity = normaliseSeverity(get("severity"));
  if (severity !== undefined) {
    s.severity = severity;
  }
  if (resolvedPython !== undefined && resolvedPython !== "") {
    s.python = resolvedPython;
  }
  return s;
}

/** Keys whose change needs a server restart rather than a didChangeConfiguration. */
export const RESTART_KEYS: readonly string[] = ["schemaLsp.python", "schemaLsp.enable"];
