import assert from "node:assert/strict";
import * as fs from "node:fs";
import Module from "node:module";
import * as path from "node:path";
import { test } from "node:test";

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  main: string;
  engines: { vscode: string };
  activationEvents: string[];
  contributes: { commands: { command: string; title: string; category: string }[] };
  devDependencies: Record<string, string>;
};
const source = fs.readFileSync(path.join(root, "src", "extension.ts"), "utf8");

test("every palette command is registered by the extension, and only those", () => {
  const contributed = pkg.contributes.commands.map((c) => c.command).sort();
  const registered = [...source.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(registered, contributed);
  for (const c of pkg.contributes.commands) {
    assert.equal(c.category, "Schema LSP");
    // Server commands (schemaLsp.*) are registered by the language client itself: the palette
    // commands must not collide with them.
    assert.ok(!c.command.startsWith("schemaLsp."), c.command);
  }
});

test("the required palette commands exist", () => {
  const titles = pkg.contributes.commands.map((c) => c.title.toLowerCase());
  for (const needle of ["check", "new revision", "preview", "add all drift"]) {
    assert.ok(titles.some((t) => t.includes(needle)), needle);
  }
});

test("@types/vscode does not claim a newer API than engines.vscode", () => {
  const engine = pkg.engines.vscode.replace(/^\^/, "");
  assert.equal(pkg.devDependencies["@types/vscode"], engine);
});

test("the bundle loads with only the editor's `vscode` module provided", () => {
  const bundle = path.join(root, pkg.main);
  if (!fs.existsSync(bundle)) {
    assert.fail(`${pkg.main} is missing: run the build (node esbuild.mjs) first`);
  }
  // A stand-in for the `vscode` module: every property is a constructible no-op, and the names
  // src/extension.ts uses are enumerable (esbuild copies them for `import * as vscode`).
  const used = [...new Set([...source.matchAll(/\bvscode\.(\w+)/g)].map((m) => m[1] as string))];
  const target = function () {};
  const stub: object = new Proxy(target, {
    get: (_t, prop) => (prop === "__esModule" ? false : stub),
    apply: () => stub,
    construct: () => stub as object,
    ownKeys: () => [...new Set([...Reflect.ownKeys(target), ...used])],
    getOwnPropertyDescriptor: (_t, prop) =>
      Reflect.getOwnPropertyDescriptor(target, prop) ?? { configurable: true, enumerable: true, value: stub },
  });
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = (request: string, ...rest: unknown[]) => (request === "vscode" ? stub : original(request, ...rest));
  try {
    const ext = require(bundle) as { activate?: unknown; deactivate?: unknown };
    assert.equal(typeof ext.activate, "function");
    assert.equal(typeof ext.deactivate, "function");
  } finally {
    loader._load = original;
  }
});
