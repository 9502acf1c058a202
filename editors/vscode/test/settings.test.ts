import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { normaliseSeverity, SERVER_DEFAULTS, SERVER_KEYS, toServerSettings } from "../src/settings";

const pkg = require("../../package.json") as {
  contributes: { configuration: { properties: Record<string, { default: unknown; markdownDescription?: string }> } };
};
const props = pkg.contributes.configuration.properties;

/** Settings the editor adds for itself; the server never sees them. */
const CLIENT_ONLY = ["enable", "maxRestarts", "trace.server"];

/**
 * The keys the server accepts, with its defaults, written from schema_lsp/server/config.py by
 * scripts/server_settings.py (tests/editors/test_vscode.py and ci.sh run it before the tests).
 */
function serverSettings(): Record<string, { key: string; default: unknown }> {
  const file = process.env.SCHEMA_LSP_SERVER_SETTINGS || path.join(__dirname, "..", "server-settings.json");
  if (!fs.existsSync(file)) {
    assert.fail(
      `${file} is missing: run \`python scripts/server_settings.py out/server-settings.json\` ` +
        "with the interpreter that has schema-lsp installed",
    );
  }
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { settings: Record<string, { key: string; default: unknown }> })
    .settings;
}

function getterFrom(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

test("nothing set in VS Code sends nothing but the interpreter, so the project's configuration applies", () => {
  assert.deepEqual(toServerSettings(() => undefined, undefined), {});
  assert.deepEqual(toServerSettings(() => undefined, "/proj/.venv/bin/python"), { python: "/proj/.venv/bin/python" });
});

test("every server setting is contributed, documented, with the server's default", () => {
  for (const key of SERVER_KEYS) {
    const prop = props[`schemaLsp.${key}`];
    assert.ok(prop, `schemaLsp.${key} is contributed`);
    assert.ok((prop.markdownDescription ?? "").length > 20, `schemaLsp.${key} is documented`);
    assert.deepEqual(prop.default, SERVER_DEFAULTS[key], `schemaLsp.${key} default`);
  }
});

test("the extension knows exactly the settings the server accepts, with its defaults", () => {
  const server = serverSettings();
  assert.deepEqual([...SERVER_KEYS].sort(), Object.keys(server).sort(), "src/settings.ts SERVER_DEFAULTS keys");
  for (const [key, { default: serverDefault }] of Object.entries(server)) {
    if (serverDefault !== null) {
      assert.deepEqual(SERVER_DEFAULTS[key as keyof typeof SERVER_DEFAULTS], serverDefault, `default of ${key}`);
    }
  }
  const contributed = Object.keys(props).map((k) => k.replace(/^schemaLsp\./, ""));
  assert.deepEqual(contributed.sort(), [...Object.keys(server), ...CLIENT_ONLY].sort(), "package.json settings");
});

test("every server setting set in VS Code reaches the server", () => {
  const server = serverSettings();
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(server)) {
    const d = SERVER_DEFAULTS[key as keyof typeof SERVER_DEFAULTS];
    // A value unlike the default, of the same type, so it must be passed through.
    // (a null default means "decided by the server": every such key is a boolean today)
    values[key] =
      d === null || typeof d === "boolean" ? !d : typeof d === "number" ? d + 1 : Array.isArray(d) ? [key === "models" ? "a.b:C" : "x"]
        : typeof d === "string" ? "/set/value" : { add_column: "error" };
  }
  const sent = toServerSettings(getterFrom(values), "/py");
  assert.deepEqual(Object.keys(sent).sort(), Object.keys(server).sort());
});

test("explicit values pass through, trimmed and normalised", () => {
  const s = toServerSettings(
    getterFrom({
      models: ["shop.models:Base", " ", 3],
      databaseUrl: " postgresql://u:${PGPASS}@db/shop ",
      migrations: "  ",
      checkInterval: 5,
      importTimeout: 20,
      compareType: false,
      compareServerDefault: true,
      includeSchemas: ["sales", ""],
      excludeTables: ["tmp_*", ""],
      severity: { remove_column: "Error", add_index: "info", bogus: "loud", x: 1 },
      previewOnSave: true,
      includeDestructive: true,
    }),
    "/proj/.venv/bin/python",
  );
  assert.deepEqual(s, {
    models: ["shop.models:Base"],
    databaseUrl: "postgresql://u:${PGPASS}@db/shop",
    checkInterval: 5,
    importTimeout: 20,
    compareType: false,
    compareServerDefault: true,
    previewOnSave: true,
    includeDestructive: true,
    includeSchemas: ["sales"],
    excludeTables: ["tmp_*"],
    severity: { remove_column: "error", add_index: "information" },
    python: "/proj/.venv/bin/python",
  });
  assert.equal("migrations" in s, false);
});

test("values of the wrong type are dropped rather than sent to the server", () => {
  const s = toServerSettings(
    getterFrom({ checkInterval: 0, importTimeout: -1, compareType: "yes", includeSchemas: "all", severity: ["error"] }),
    undefined,
  );
  assert.deepEqual(s, {});
  assert.equal(normaliseSeverity(null), undefined);
});

test("only keys the server knows are ever sent", () => {
  const everything: Record<string, unknown> = { enable: "always", maxRestarts: 3, "trace.server": "verbose" };
  for (const key of SERVER_KEYS) {
    everything[key] = props[`schemaLsp.${key}`]?.default;
  }
  everything.models = ["a:b"];
  everything.databaseUrl = "sqlite:///x.db";
  for (const key of Object.keys(toServerSettings(getterFrom(everything), "/py"))) {
    assert.ok((SERVER_KEYS as string[]).includes(key), key);
  }
});
