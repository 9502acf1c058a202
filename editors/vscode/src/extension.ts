/**
 * VS Code client for schema-lsp: one `<python> -m schema_lsp serve` for the workspace (the
 * server keeps one session per workspace folder), the database state in the status bar, a
 * read-only preview of the next revision, and palette commands.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import { chooseAddAllAction, previewText } from "./actions";
import {
  chooseInterpreter,
  describeProbeFailure,
  type InterpreterChoice,
  type ProbeResult,
  serverArgs,
} from "./interpreter";
import { type EnableMode, shouldStart } from "./project";
import { RestartPolicy } from "./restartPolicy";
import { RESTART_KEYS, type ServerSettings, toServerSettings } from "./settings";
import { parseStatus, renderStatus, type StatusParams } from "./status";

const SECTION = "schemaLsp";
const PREVIEW_SCHEME = "schema-lsp-preview";
/** Status key used until the server reports its own roots. */
const PROVISIONAL = "schema-lsp:client";

interface Running {
  client: LanguageClient;
  /** The folder whose interpreter runs the server (the first schema-lsp folder). */
  home: vscode.WorkspaceFolder;
  interpreter: InterpreterChoice;
}

let running: Running | undefined;
let starting: Promise<void> | undefined;
let policy = new RestartPolicy(4);
/** Interpreter per workspace folder (URI string): sent as each root's `python` setting. */
const interpreters = new Map<string, InterpreterChoice>();
const statusByRoot = new Map<string, StatusParams>();
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
const previewChanged = new vscode.EventEmitter<vscode.Uri>();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("schema-lsp");
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  statusItem.command = "schema-lsp.checkNow";
  context.subscriptions.push(output, statusItem, previewChanged);

  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, {
      onDidChange: previewChanged.event,
      provideTextDocumentContent: (uri) => providePreview(uri),
    }),
    vscode.commands.registerCommand("schema-lsp.checkNow", () => checkNow()),
    vscode.commands.registerCommand("schema-lsp.newRevision", () => newRevision()),
    vscode.commands.registerCommand("schema-lsp.previewRevision", () => openPreview(false)),
    vscode.commands.registerCommand("schema-lsp.addAllDrift", () => addAllDrift()),
    vscode.commands.registerCommand("schema-lsp.restartServer", () => restart(true)),
    vscode.commands.registerCommand("schema-lsp.showOutput", () => output.show(true)),
    vscode.workspace.onDidSaveTextDocument((doc) => onSave(doc)),
    vscode.workspace.onDidChangeConfiguration((e) => onConfigurationChanged(e)),
    vscode.workspace.onDidChangeWorkspaceFolders(async (e) => {
      for (const folder of e.removed) {
        interpreters.delete(folder.uri.toString());
      }
      for (const folder of e.added) {
        interpreters.set(folder.uri.toString(), await resolveInterpreter(folder));
      }
      // The client forwards folder changes to a running server; otherwise a new folder may
      // be the first schema-lsp project of the window.
      if (!running) {
        await start();
      }
    }),
  );
  await watchPythonExtension(context);
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}

// ---------------------------------------------------------------- starting and stopping

function config(folder: vscode.WorkspaceFolder | undefined): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION, folder?.uri);
}

async function isProject(folder: vscode.WorkspaceFolder): Promise<boolean> {
  const cfg = config(folder);
  const root = folder.uri.fsPath;
  let pyproject: string | undefined;
  try {
    pyproject = await fs.promises.readFile(path.join(root, "pyproject.toml"), "utf8");
  } catch {
    pyproject = undefined;
  }
  return shouldStart({
    enable: cfg.get<EnableMode>("enable", "auto"),
    modelsConfigured: (cfg.get<string[]>("models") ?? []).length > 0,
    hasAlembicIni: fs.existsSync(path.join(root, "alembic.ini")),
    pyproject,
  });
}

async function pythonExtensionInterpreter(folder: vscode.WorkspaceFolder): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) {
    return undefined;
  }
  try {
    // The Python extension's API is untyped here (its types package is not a dependency).
    const api: any = ext.isActive ? ext.exports : await ext.activate();
    const envs = api?.environments;
    if (envs?.getActiveEnvironmentPath) {
      const active = envs.getActiveEnvironmentPath(folder.uri);
      const resolved = envs.resolveEnvironment ? await envs.resolveEnvironment(active) : undefined;
      const exe: unknown = resolved?.executable?.uri?.fsPath ?? active?.path;
      if (typeof exe === "string" && exe !== "") {
        return exe;
      }
    }
    const details = api?.settings?.getExecutionDetails?.(folder.uri);
    const cmd: unknown = details?.execCommand?.[0];
    return typeof cmd === "string" && cmd !== "" ? cmd : undefined;
  } catch (err) {
    output.appendLine(`Python extension API unavailable: ${String(err)}`);
    return undefined;
  }
}

async function watchPythonExtension(context: vscode.ExtensionContext): Promise<void> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) {
    return;
  }
  try {
    // The Python extension's API is untyped here (its types package is not a dependency).
    const api: any = ext.isActive ? ext.exports : await ext.activate();
    const event = api?.environments?.onDidChangeActiveEnvironmentPath;
    if (typeof event === "function") {
      context.subscriptions.push(
        event(() => {
          output.appendLine("Python interpreter changed: restarting.");
          void restart(false);
        }),
      );
    }
  } catch {
    // The extension still works with the setting or the workspace's .venv.
  }
}

async function resolveInterpreter(folder: vscode.WorkspaceFolder): Promise<InterpreterChoice> {
  return chooseInterpreter({
    configured: config(folder).get<string>("python", ""),
    pythonExtension: await pythonExtensionInterpreter(folder),
    workspaceFolder: folder.uri.fsPath,
    platform: process.platform,
    env: process.env,
    exists: (f) => fs.existsSync(f),
  });
}

function probe(python: string, cwd: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(python, ["-c", "import schema_lsp.server"], { cwd, timeout: 30000 }, (err, _out, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === "string") {
        resolve({ spawnError: String((err as NodeJS.ErrnoException).code), exitCode: null, stderr });
      } else {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ exitCode: code, stderr: String(stderr) });
      }
    });
  });
}

/** The value of a setting the user set at some level, else undefined (defaults are not sent). */
function explicitValue(cfg: vscode.WorkspaceConfiguration, key: string): unknown {
  const i = cfg.inspect(key);
  if (!i) {
    return undefined;
  }
  return (
    i.workspaceFolderLanguageValue ??
    i.workspaceLanguageValue ??
    i.globalLanguageValue ??
    i.workspaceFolderValue ??
    i.workspaceValue ??
    i.globalValue
  );
}

/**
 * The `schemaLsp` settings for one workspace folder (or the window, without one). `python` is
 * that folder's interpreter, which the server uses to import the folder's models; the
 * fallback `python3` is left out so the server's own default applies.
 */
function settingsFor(folder: vscode.WorkspaceFolder | undefined): ServerSettings {
  const cfg = config(folder);
  const choice = folder ? interpreters.get(folder.uri.toString()) : undefined;
  const python = choice && choice.source !== "default" ? choice.python : undefined;
  // The extension shows the preview itself (a read-only virtual document, schemaLsp.previewOnSave):
  // the server's own on-save preview (a temp file) would open a second one.
  return { ...toServerSettings((key) => explicitValue(cfg, key), python), previewOnSave: false };
}

function folderOf(scopeUri: string | undefined): vscode.WorkspaceFolder | undefined {
  return scopeUri ? vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(scopeUri)) : undefined;
}

function showStartProblem(problem: string): void {
  output.appendLine(problem);
  setStatus({ state: "error", driftCount: 0, message: problem, root: PROVISIONAL });
  void vscode.window.showErrorMessage(problem, "Open Settings", "Show Output").then((choice) => {
    if (choice === "Open Settings") {
      void vscode.commands.executeCommand("workbench.action.openSettings", "schemaLsp.python");
    } else if (choice === "Show Output") {
      output.show(true);
    }
  });
}

/** Starts the server when some workspace folder is a schema-lsp project. */
async function start(): Promise<void> {
  if (running || starting) {
    return starting;
  }
  starting = startNow().finally(() => {
    starting = undefined;
  });
  return starting;
}

async function startNow(): Promise<void> {
  const folders: vscode.WorkspaceFolder[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (await isProject(folder)) {
      folders.push(folder);
    }
  }
  const home = folders[0];
  if (home === undefined) {
    renderStatusBar();
    return;
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    interpreters.set(folder.uri.toString(), await resolveInterpreter(folder));
  }
  const interpreter = interpreters.get(home.uri.toString()) as InterpreterChoice;
  output.appendLine(`Starting schema-lsp with ${interpreter.python} (${interpreter.source}) in ${home.uri.fsPath}`);
  const problem = describeProbeFailure(interpreter.python, interpreter.source, await probe(interpreter.python, home.uri.fsPath));
  if (problem !== undefined) {
    showStartProblem(problem);
    return;
  }

  const serverOptions: ServerOptions = {
    command: interpreter.python,
    args: serverArgs(),
    transport: TransportKind.stdio,
    options: { cwd: home.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  };
  policy = new RestartPolicy(config(undefined).get<number>("maxRestarts", 4));
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "python" }],
    outputChannel: output,
    initializationOptions: { [SECTION]: settingsFor(undefined) },
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        if (policy.shouldRestart(Date.now())) {
          output.appendLine(`schema-lsp stopped: restarting (${policy.recentCrashes}).`);
          return { action: CloseAction.Restart, handled: true };
        }
        const message = `schema-lsp crashed ${policy.recentCrashes} times in three minutes and will not be restarted. Run "Schema LSP: Restart server" after fixing the cause (see the output).`;
        statusByRoot.clear();
        setStatus({ state: "error", driftCount: 0, message, root: PROVISIONAL });
        return { action: CloseAction.DoNotRestart, message };
      },
    },
    middleware: {
      workspace: {
        // Answer the server's per-root questions with that folder's settings and interpreter.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return params.items.map((item, i) =>
            item.section === SECTION ? settingsFor(folderOf(item.scopeUri)) : (result[i] as unknown),
          );
        },
      },
    },
  };
  const client = new LanguageClient("schemaLsp", "schema-lsp", serverOptions, clientOptions);
  // Registered before start(): the client keeps it across restarts.
  client.onNotification("schemaLsp/status", (raw: unknown) => {
    const status = parseStatus(raw);
    if (status) {
      statusByRoot.delete(PROVISIONAL);
      setStatus({ ...status, root: status.root || home.uri.toString() });
    }
  });
  running = { client, home, interpreter };
  setStatus({ state: "checking", driftCount: 0, message: "starting", root: PROVISIONAL });
  try {
    await client.start();
  } catch (err) {
    output.appendLine(`start failed: ${String(err)}`);
    statusByRoot.clear();
    setStatus({ state: "error", driftCount: 0, message: String(err), root: PROVISIONAL });
  }
}

async function stop(): Promise<void> {
  const current = running;
  running = undefined;
  statusByRoot.clear();
  if (current) {
    await current.client.stop().catch(() => undefined);
  }
  if (statusItem) {
    renderStatusBar();
  }
}

async function restart(manual: boolean): Promise<void> {
  await stop();
  if (manual) {
    policy.reset();
  }
  await start();
}

async function onConfigurationChanged(e: vscode.ConfigurationChangeEvent): Promise<void> {
  if (!e.affectsConfiguration(SECTION)) {
    return;
  }
  if (!running || RESTART_KEYS.some((k) => e.affectsConfiguration(k))) {
    await restart(false);
    return;
  }
  if (running.client.state === State.Running) {
    // The server re-reads each root's settings through workspace/configuration.
    await running.client.sendNotification("workspace/didChangeConfiguration", {
      settings: { [SECTION]: settingsFor(undefined) },
    });
  }
}

// ---------------------------------------------------------------- status bar

function setStatus(status: StatusParams): void {
  statusByRoot.set(status.root, status);
  renderStatusBar();
}

function renderStatusBar(): void {
  if (statusByRoot.size === 0 && running === undefined) {
    statusItem.hide();
    return;
  }
  const view = renderStatus(statusByRoot);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.background === undefined ? undefined : new vscode.ThemeColor(`statusBarItem.${view.background}Background`);
  statusItem.show();
}

// ---------------------------------------------------------------- commands

function activeClient(): Running | undefined {
  if (!running) {
    void vscode.window.showWarningMessage('schema-lsp is not running in this workspace (see "Schema LSP: Show server output").');
  }
  return running;
}

async function runServerCommand(r: Running, command: string, args: unknown[]): Promise<unknown> {
  return r.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
}

/** The workspace folder the user is working in: the active file's, else the server's home. */
function currentFolder(r: Running): vscode.WorkspaceFolder {
  const doc = vscode.window.activeTextEditor?.document;
  const folder = doc && doc.uri.scheme === "file" ? vscode.workspace.getWorkspaceFolder(doc.uri) : undefined;
  return folder ?? r.home;
}

/**
 * Arguments of the server's commands: first the URI the command is about (the active file when
 * it is in `folder`, else the folder), then the command's own arguments.
 */
function commandArgs(folder: vscode.WorkspaceFolder, ...rest: unknown[]): unknown[] {
  const doc = vscode.window.activeTextEditor?.document;
  const inFolder =
    doc !== undefined &&
    doc.uri.scheme === "file" &&
    vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.toString() === folder.uri.toString();
  return [inFolder ? doc.uri.toString() : folder.uri.toString(), ...rest];
}

async function checkNow(): Promise<void> {
  const r = activeClient();
  if (!r) {
    return;
  }
  try {
    // No argument: every root is checked.
    await runServerCommand(r, "schemaLsp.check", []);
  } catch (err) {
    void vscode.window.showErrorMessage(`schema-lsp check failed: ${String(err)}`);
  }
}

async function newRevision(): Promise<void> {
  const r = activeClient();
  if (!r) {
    return;
  }
  const folder = currentFolder(r);
  const message = await vscode.window.showInputBox({
    prompt: "Message of the new revision",
    placeHolder: "add customer phone",
    validateInput: (v) => (v.trim() === "" ? "A message is required" : undefined),
  });
  if (message === undefined) {
    return;
  }
  try {
    const result = await runServerCommand(r, "schemaLsp.newRevision", commandArgs(folder, message));
    const file = revisionPath(result);
    if (file) {
      await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
    }
  } catch (err) {
    void vscode.window.showErrorMessage(`schema-lsp: new revision failed: ${String(err)}`);
  }
}

function revisionPath(result: unknown): string | undefined {
  const value =
    typeof result === "string"
      ? result
      : result !== null && typeof result === "object"
        ? ((result as Record<string, unknown>).path ?? (result as Record<string, unknown>).uri)
        : undefined;
  if (typeof value !== "string" || value === "") {
    return undefined;
  }
  return value.startsWith("file:") ? vscode.Uri.parse(value).fsPath : value;
}

function previewUri(folder: vscode.WorkspaceFolder): vscode.Uri {
  return vscode.Uri.from({
    scheme: PREVIEW_SCHEME,
    path: `/${folder.name}/next revision.py`,
    query: folder.uri.toString(),
  });
}

async function providePreview(uri: vscode.Uri): Promise<string> {
  const r = running;
  if (!r) {
    return "# schema-lsp is not running.\n";
  }
  const folder = folderOf(uri.query) ?? r.home;
  try {
    return previewText(await runServerCommand(r, "schemaLsp.previewRevision", commandArgs(folder)));
  } catch (err) {
    return `# schema-lsp could not preview the next revision:\n# ${String(err).replace(/\n/g, "\n# ")}\n`;
  }
}

async function openPreview(fromSave: boolean): Promise<void> {
  const r = fromSave ? running : activeClient();
  if (!r) {
    return;
  }
  const uri = previewUri(currentFolder(r));
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(doc, "python");
  await vscode.window.showTextDocument(doc, {
    viewColumn: vscode.ViewColumn.Beside,
    preserveFocus: true,
    preview: true,
  });
}

function onSave(doc: vscode.TextDocument): void {
  if (doc.languageId !== "python" || doc.uri.scheme !== "file") {
    return;
  }
  const open = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === PREVIEW_SCHEME);
  for (const preview of open) {
    previewChanged.fire(preview.uri);
  }
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  if (open.length === 0 && folder && config(folder).get<boolean>("previewOnSave", false)) {
    void openPreview(true);
  }
}

async function addAllDrift(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== "python") {
    void vscode.window.showWarningMessage("Open a Python file with SQLAlchemy models first.");
    return;
  }
  const doc = editor.document;
  const range = new vscode.Range(0, 0, doc.lineCount, 0);
  const actions =
    (await vscode.commands.executeCommand<vscode.CodeAction[]>(
      "vscode.executeCodeActionProvider",
      doc.uri,
      range,
      vscode.CodeActionKind.Source.value,
    )) ?? [];
  const index = chooseAddAllAction(
    actions.map((a) => ({ title: a.title, kind: a.kind?.value })),
    "workspace",
  );
  const action = actions[index];
  if (action === undefined) {
    void vscode.window.showInformationMessage("schema-lsp: no drift to add.");
    return;
  }
  if (action.edit && !(await vscode.workspace.applyEdit(action.edit))) {
    void vscode.window.showErrorMessage("schema-lsp: the migration edit could not be applied.");
    return;
  }
  if (action.command) {
    await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? []));
  }
}
