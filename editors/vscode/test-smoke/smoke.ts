/**
 * Protocol smoke test: drives `<python> -m schema_lsp serve` over stdio, the way the extension
 * does (vscode-languageserver-protocol), against a temporary copy of examples/shop, and checks
 * that drift diagnostics, the status notification and the revision preview arrive.
 *
 * Environment: SCHEMA_LSP_PYTHON (interpreter with schema_lsp installed; default python3),
 * SCHEMA_LSP_EXAMPLE (the example project; default: examples/shop of this repository),
 * SCHEMA_LSP_REQUIRE_SERVER=1 turns the "server not there yet" skip into a failure.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

import {
  createProtocolConnection,
  type Diagnostic,
  type ProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver-protocol/node";

const PYTHON = process.env.SCHEMA_LSP_PYTHON || "python3";
const TIMEOUT_MS = Number(process.env.SCHEMA_LSP_SMOKE_TIMEOUT_MS || 90000);
const KINDS = new Set([
  "add_table", "remove_table", "add_column", "remove_column", "modify_type", "modify_nullable",
  "modify_default", "modify_comment", "add_index", "remove_index", "add_constraint",
  "remove_constraint", "add_fk", "remove_fk", "add_unique", "remove_unique", "add_table_comment",
  "remove_table_comment", "modify_table_comment",
]);

function findExample(): string | undefined {
  if (process.env.SCHEMA_LSP_EXAMPLE) {
    return process.env.SCHEMA_LSP_EXAMPLE;
  }
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, "examples", "shop");
    if (fs.existsSync(candidate)) {
      return candidate;
    }
    dir = path.dirname(dir);
  }
  return undefined;
}

function skipReason(): string | undefined {
  const probe = spawnSync(PYTHON, ["-c", "import schema_lsp.server.server"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? String(probe.error) : (probe.stderr.trim().split("\n").pop() ?? "");
    return `schema-lsp server is not importable with ${PYTHON} (python -c "import schema_lsp.server.server": ${why})`;
  }
  const example = findExample();
  if (example === undefined || !fs.existsSync(path.join(example, "shop", "models.py"))) {
    return "examples/shop/shop/models.py is missing";
  }
  return undefined;
}

const reason = skipReason();
if (reason !== undefined && process.env.SCHEMA_LSP_REQUIRE_SERVER === "1") {
  throw new Error(`smoke test required but cannot run: ${reason}`);
}
if (reason !== undefined) {
  console.log(`# SKIP smoke: ${reason}`);
}
const opts = reason === undefined ? {} : { skip: reason };

/** Polls `check` until it returns a value or the timeout passes. */
async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface StatusParams {
  state: string;
  driftCount: number;
  message: string;
  root: string;
}

let work = "";
let server: ChildProcess | undefined;
let conn: ProtocolConnection | undefined;
let modelsUri = "";
let capabilities: Record<string, unknown> = {};
const diagnostics = new Map<string, Diagnostic[]>();
const statuses: StatusParams[] = [];
let stderr = "";
let configurationAsked = 0;
const appliedEdits: unknown[] = [];

before(async () => {
  if (reason !== undefined) {
    return;
  }
  const example = findExample() as string;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "schema-lsp-smoke-"));
  fs.cpSync(example, work, {
    recursive: true,
    filter: (src) => !/(^|[\\/])(__pycache__|\.venv|\.pytest_cache)$/.test(src),
  });
  const rootUri = pathToFileURL(work).href;
  const modelsPath = path.join(work, "shop", "models.py");
  modelsUri = pathToFileURL(modelsPath).href;

  server = spawn(PYTHON, ["-m", "schema_lsp", "serve"], { cwd: work, stdio: ["pipe", "pipe", "pipe"] });
  server.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  conn = createProtocolConnection(
    new StreamMessageReader(server.stdout as NodeJS.ReadableStream),
    new StreamMessageWriter(server.stdin as NodeJS.WritableStream),
  );
  conn.onNotification("textDocument/publishDiagnostics", (p: { uri: string; diagnostics: Diagnostic[] }) => {
    diagnostics.set(p.uri, p.diagnostics);
  });
  conn.onNotification("schemaLsp/status", (p: StatusParams) => {
    statuses.push(p);
  });
  // Answer like the extension's middleware: explicit settings plus the folder's interpreter.
  const perRoot: Record<string, unknown> = { compareType: true };
  if (path.isAbsolute(PYTHON)) {
    perRoot.python = PYTHON;
  }
  conn.onRequest("workspace/configuration", (p: { items: { section?: string }[] }) => {
    configurationAsked += 1;
    return p.items.map((item) => (item.section === "schemaLsp" ? perRoot : null));
  });
  conn.onRequest("client/registerCapability", () => null);
  conn.onRequest("client/unregisterCapability", () => null);
  conn.onRequest("window/workDoneProgress/create", () => null);
  conn.onRequest("workspace/applyEdit", (p: { edit: unknown }) => {
    appliedEdits.push(p.edit);
    return { applied: true };
  });
  conn.onNotification("window/logMessage", () => undefined);
  conn.onNotification("$/progress", () => undefined);
  conn.listen();

  const init = (await conn.sendRequest("initialize", {
    processId: process.pid,
    clientInfo: { name: "schema-lsp smoke test" },
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: "shop" }],
    initializationOptions: { schemaLsp: {} },
    capabilities: {
      workspace: { configuration: true, workspaceFolders: true, applyEdit: true, didChangeWatchedFiles: { dynamicRegistration: true } },
      textDocument: {
        synchronization: { didSave: true },
        publishDiagnostics: { relatedInformation: true },
        codeAction: {
          codeActionLiteralSupport: { codeActionKind: { valueSet: ["quickfix", "source"] } },
          resolveSupport: { properties: ["edit"] },
        },
      },
      window: { workDoneProgress: true },
    },
  })) as { capabilities: Record<string, unknown> };
  capabilities = init.capabilities;
  await conn.sendNotification("initialized", {});
  await conn.sendNotification("textDocument/didOpen", {
    textDocument: { uri: modelsUri, languageId: "python", version: 1, text: fs.readFileSync(modelsPath, "utf8") },
  });
});

after(async () => {
  if (conn !== undefined && server !== undefined) {
    const exited = new Promise<number | null>((r) => server?.once("exit", (code) => r(code)));
    try {
      await Promise.race([conn.sendRequest("shutdown"), new Promise((r) => setTimeout(r, 5000))]);
      await conn.sendNotification("exit");
    } catch {
      // The server may already be gone; it is killed below.
    }
    const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000))]);
    if (code === "timeout") {
      server.kill();
    }
    conn.dispose();
  }
  if (work !== "") {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test("drift diagnostics arrive on the models file", opts, async () => {
  const diags = await waitFor("schema-lsp diagnostics on shop/models.py", () => {
    const d = diagnostics.get(modelsUri)?.filter((x) => x.source === "schema-lsp");
    return d !== undefined && d.length > 0 ? d : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}\nserver stderr:\n${stderr.slice(-3000)}`);
  });
  const lines = fs.readFileSync(path.join(work, "shop", "models.py"), "utf8").split("\n").length;
  for (const d of diags) {
    assert.equal(typeof d.code, "string", `diagnostic code is a drift kind: ${JSON.stringify(d)}`);
    assert.ok(KINDS.has(String(d.code)), `known drift kind: ${String(d.code)}`);
    assert.ok(d.range.start.line >= 0 && d.range.start.line < lines, `on a line of models.py: ${JSON.stringify(d.range)}`);
    assert.ok(d.message.length > 0);
  }
  // examples/shop's advertised drift, on the model lines that cause it.
  const source = fs.readFileSync(path.join(work, "shop", "models.py"), "utf8").split("\n");
  const onColumn: Record<string, string> = { add_column: "email_verified", modify_nullable: "name", modify_type: "name" };
  for (const kind of ["add_column", "modify_nullable", "modify_type", "remove_column", "add_table"]) {
    const found = diags.filter((d) => d.code === kind);
    assert.ok(found.length > 0, `a ${kind} diagnostic among ${diags.map((d) => String(d.code)).join(", ")}`);
    const column = onColumn[kind];
    if (column !== undefined) {
      for (const d of found) {
        const text = source[d.range.start.line] ?? "";
        assert.match(text, new RegExp(`^\\s+${column}\\s*:`), `${kind} on the ${column} line, got: ${text}`);
      }
    }
  }
  console.log(`# ${diags.length} diagnostics: ${diags.map((d) => `${String(d.code)}@${d.range.start.line + 1}`).join(", ")}`);
});

function advertised(): string[] {
  const provider = capabilities.executeCommandProvider as { commands?: string[] } | undefined;
  return provider?.commands ?? [];
}

test("the server asks for the root's settings (the extension's middleware answers)", opts, () => {
  assert.ok(configurationAsked > 0, "workspace/configuration was requested");
});

test("schemaLsp.check checks the root on demand", opts, async () => {
  assert.ok(conn);
  assert.ok(advertised().includes("schemaLsp.check"), JSON.stringify(advertised()));
  const rootUri = pathToFileURL(work).href;
  const result = (await conn.sendRequest("workspace/executeCommand", {
    command: "schemaLsp.check",
    arguments: [rootUri],
  })) as { roots?: string[] } | null;
  assert.deepEqual(result?.roots?.map((r) => r.replace(/\/$/, "")), [rootUri.replace(/\/$/, "")]);
});

test("the server advertises the other schemaLsp commands", opts, () => {
  const missing = ["schemaLsp.newRevision", "schemaLsp.previewRevision", "schemaLsp.addToMigration"].filter(
    (c) => !advertised().includes(c),
  );
  assert.deepEqual(missing, [], `advertised: ${JSON.stringify(advertised())}`);
});

test("schemaLsp/status reports a connected database with drift", opts, async () => {
  const status = await waitFor("a connected schemaLsp/status", () =>
    statuses.find((s) => s.state === "connected" && s.driftCount > 0),
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; statuses seen: ${JSON.stringify(statuses)}`);
  });
  // Every diagnostic is one drift; drift no model line defines is counted but not shown.
  const shown = diagnostics.get(modelsUri)?.length ?? 0;
  assert.ok(status.driftCount >= shown, `driftCount ${status.driftCount} < ${shown} diagnostics`);
});

test("schemaLsp.previewRevision returns the next migration's source", opts, async () => {
  assert.ok(conn);
  const result = await conn.sendRequest("workspace/executeCommand", {
    command: "schemaLsp.previewRevision",
    arguments: [{ root: pathToFileURL(work).href, uri: modelsUri }],
  });
  const text = typeof result === "string" ? result : String((result as { text?: string } | null)?.text ?? "");
  assert.match(text, /def upgrade\(\)/);
  assert.match(text, /op\./);
});

test("a drift diagnostic offers an 'Add to migration' quick fix", opts, async () => {
  assert.ok(conn);
  assert.ok(capabilities.codeActionProvider, "the server provides code actions");
  const diag = (diagnostics.get(modelsUri) ?? []).find((d) => d.code === "add_column");
  assert.ok(diag, "an add_column diagnostic");
  const actions = (await conn.sendRequest("textDocument/codeAction", {
    textDocument: { uri: modelsUri },
    range: diag.range,
    context: { diagnostics: [diag], only: ["quickfix"] },
  })) as { title: string; kind?: string; edit?: unknown; command?: unknown; data?: unknown }[] | null;
  const fix = (actions ?? []).find((a) => a.title.startsWith("Add to migration"));
  assert.ok(fix, `quick fixes offered: ${JSON.stringify((actions ?? []).map((a) => a.title))}`);
  assert.equal(fix.kind, "quickfix");
  assert.ok(fix.edit !== undefined || fix.command !== undefined || fix.data !== undefined, "the fix does something");

  // Picking it, as VS Code does: apply its edit, run its command (the server may then send
  // workspace/applyEdit). Either way an edit of a migration that adds the column results.
  const command = fix.command as { command: string; arguments?: unknown[] } | undefined;
  if (fix.edit !== undefined) {
    appliedEdits.push(fix.edit);
  }
  if (command !== undefined) {
    await conn.sendRequest("workspace/executeCommand", { command: command.command, arguments: command.arguments ?? [] });
  }
  const edits = JSON.stringify(appliedEdits);
  assert.match(edits, /migrations\/versions\/[^"]+\.py/, "the edit is to a migration file");
  assert.match(edits, /add_column\(/);
  assert.match(edits, /email_verified/);
});

test("schemaLsp.newRevision writes a revision with the drift", opts, async () => {
  assert.ok(conn);
  // The extension's arguments: the active file's URI, then the message.
  const result = (await conn.sendRequest("workspace/executeCommand", {
    command: "schemaLsp.newRevision",
    arguments: [modelsUri, "add email verification"],
  })) as { path?: string } | null;
  const file = result?.path ?? "";
  assert.ok(file.startsWith(path.join(work, "migrations")), `written inside the project: ${file}`);
  const text = fs.readFileSync(file, "utf8");
  assert.match(text, /add email verification/);
  assert.match(text, /email_verified/);
});
