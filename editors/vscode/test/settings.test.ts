import assert from "node:assert/strict";
import { test } from "node:test";

import { normaliseSeverity, SERVER_DEFAULTS, SERVER_KEYS, toServerSettings } from "../src/settings";

const pkg = require("../../package.json") as {
  contributes: { configuration: { properties: Record<string, { default: unknown; markdownDescription?: string }> } };
};
const props = pkg.contributes.configuration.properties;

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
