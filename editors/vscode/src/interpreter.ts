/**
 * Choice of the Python interpreter that runs `python -m schema_lsp serve`.
 *
 * Pure logic: no `vscode` import, so it is unit-tested with `node --test`.
 */
import * as path from "path";

export interface InterpreterInputs {
  /** The `schemaLsp.python` setting ("" when unset). */
  configured: string;
  /** Interpreter selected in the Python extension, if that extension is installed and has one. */
  pythonExtension: string | undefined;
  /** Workspace folder the server is started for, if any. */
  workspaceFolder: string | undefined;
  /** `process.platform` of the extension host. */
  platform: NodeJS.Platform;
  /** Environment used for `${env:NAME}` expansion. */
  env: Record<string, string | undefined>;
  /** Whether a file exists (injected so tests need no file system). */
  exists: (file: string) => boolean;
}

export type InterpreterSource = "setting" | "python-extension" | "workspace-venv" | "default";

export interface InterpreterChoice {
  python: string;
  source: InterpreterSource;
}

/** Expands `${workspaceFolder}`, `${env:NAME}` and a leading `~` in a configured path. */
export function expandVariables(
  value: string,
  workspaceFolder: string | undefined,
  env: Record<string, string | undefined>,
): string {
  let out = value.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? "");
  out = out.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env[name] ?? "");
  const home = env.HOME ?? env.USERPROFILE;
  if (home && (out === "~" || out.startsWith("~/"))) {
    out = home + out.slice(1);
  }
  return out;
}

/** The virtual-environment interpreters looked for in a workspace folder, most likely first. */
export function venvCandidates(workspaceFolder: string, platform: NodeJS.Platform): string[] {
  const p = platform === "win32" ? path.win32 : path.posix;
  const names = [".venv", "venv", "env"];
  return names.map((name) =>
    platform === "win32"
      ? p.join(workspaceFolder, name, "Scripts", "python.exe")
      : p.join(workspaceFolder, name, "bin", "python"),
  );
}

/**
 * Picks the interpreter: the `schemaLsp.python` setting, else the Python extension's
 * selected interpreter, else a virtual environment in the workspace folder, else `python3`
 * (`python` on Windows).
 */
export function chooseInterpreter(inputs: InterpreterInputs): InterpreterChoice {
  const configured = inputs.configured.trim();
  if (configured !== "") {
    let python = expandVariables(configured, inputs.workspaceFolder, inputs.env);
    const p = inputs.platform === "win32" ? path.win32 : path.posix;
    // A relative path with a separator is taken relative to the workspace folder.
    if (inputs.workspaceFolder && !p.isAbsolute(python) && /[\\/]/.test(python)) {
      python = p.join(inputs.workspaceFolder, python);
    }
    return { python, source: "setting" };
  }
  if (inputs.pythonExtension && inputs.pythonExtension.trim() !== "") {
    return { python: inputs.pythonExtension, source: "python-extension" };
  }
  if (inputs.workspaceFolder) {
    for (const candidate of venvCandidates(inputs.workspaceFolder, inputs.platform)) {
      if (inputs.exists(candidate)) {
        return { python: candidate, source: "workspace-venv" };
      }
    }
  }
  return { python: inputs.platform === "win32" ? "python" : "python3", source: "default" };
}

/** Arguments that start the server over stdio with the chosen interpreter. */
export function serverArgs(): string[] {
  return ["-m", "schema_lsp", "serve"];
}

/** Result of `<python> -c "import schema_lsp.server"` run before starting the server. */
export interface ProbeResult {
  /** Node's error code when the process could not be spawned (ENOENT: no such interpreter). */
  spawnError?: string;
  exitCode: number | null;
  stderr: string;
}

/**
 * Turns a failed probe into a message for the user, or undefined when the probe succeeded.
 * The message names the interpreter and the fix.
 */
export function describeProbeFailure(python: string, source: InterpreterSource, probe: ProbeResult): string | undefined {
  const origin: Record<InterpreterSource, string> = {
    setting: "the schemaLsp.python setting",
    "python-extension": "the interpreter selected in the Python extension",
    "workspace-venv": "the workspace's virtual environment",
    default: "the default interpreter",
  };
  if (probe.spawnError !== undefined) {
    if (probe.spawnError === "ENOENT" || probe.spawnError === "EACCES") {
      return `schema-lsp: cannot run Python interpreter "${python}" (${origin[source]}): ${probe.spawnError}. Set schemaLsp.python to a working interpreter.`;
    }
    return `schema-lsp: starting "${python}" failed: ${probe.spawnError}.`;
  }
  if (probe.exitCode === 0) {
    return undefined;
  }
  if (/No module named ['"]?schema_lsp/.test(probe.stderr)) {
    return `schema-lsp is not installed for "${python}" (${origin[source]}). Install it there ("${python} -m pip install schema-lsp") or set schemaLsp.python.`;
  }
  const lastLine = probe.stderr.trim().split(/\r?\n/).pop() ?? "";
  return `schema-lsp: "${python} -m schema_lsp" cannot start (exit ${probe.exitCode ?? "signal"}): ${lastLine}`;
}
