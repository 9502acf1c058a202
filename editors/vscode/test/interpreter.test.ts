import assert from "node:assert/strict";
import { test } from "node:test";

import { chooseInterpreter, describeProbeFailure, expandVariables, serverArgs, type InterpreterInputs } from "../src/interpreter";

function inputs(over: Partial<InterpreterInputs>): InterpreterInputs {
  return {
    configured: "",
    pythonExtension: undefined,
    workspaceFolder: "/proj",
    platform: "linux",
    env: { HOME: "/home/u" },
    exists: () => false,
    ...over,
  };
}

test("the setting wins over everything", () => {
  const c = chooseInterpreter(inputs({ configured: "/opt/py/bin/python", pythonExtension: "/x/python", exists: () => true }));
  assert.deepEqual(c, { python: "/opt/py/bin/python", source: "setting" });
});

test("the setting expands ${workspaceFolder}, ${env:…} and ~", () => {
  assert.equal(chooseInterpreter(inputs({ configured: "${workspaceFolder}/.venv/bin/python" })).python, "/proj/.venv/bin/python");
  assert.equal(chooseInterpreter(inputs({ configured: "${env:PYROOT}/bin/python", env: { PYROOT: "/py" } })).python, "/py/bin/python");
  assert.equal(chooseInterpreter(inputs({ configured: "~/venvs/a/bin/python" })).python, "/home/u/venvs/a/bin/python");
  assert.equal(expandVariables("${env:MISSING}x", undefined, {}), "x");
});

test("a relative setting with a separator is relative to the workspace folder; a bare name is kept", () => {
  assert.equal(chooseInterpreter(inputs({ configured: "env/bin/python" })).python, "/proj/env/bin/python");
  assert.equal(chooseInterpreter(inputs({ configured: "python3.12" })).python, "python3.12");
});

test("the Python extension's interpreter comes before the workspace venv", () => {
  const c = chooseInterpreter(inputs({ pythonExtension: "/conda/bin/python", exists: () => true }));
  assert.deepEqual(c, { python: "/conda/bin/python", source: "python-extension" });
});

test("the workspace .venv is used when it exists", () => {
  const seen: string[] = [];
  const c = chooseInterpreter(
    inputs({
      exists: (f) => {
        seen.push(f);
        return f === "/proj/.venv/bin/python";
      },
    }),
  );
  assert.deepEqual(c, { python: "/proj/.venv/bin/python", source: "workspace-venv" });
  assert.equal(seen[0], "/proj/.venv/bin/python");
});

test("on Windows the venv lives in Scripts and the fallback is python", () => {
  const c = chooseInterpreter(
    inputs({ platform: "win32", workspaceFolder: "C:\\proj", exists: (f) => f === "C:\\proj\\.venv\\Scripts\\python.exe" }),
  );
  assert.equal(c.python, "C:\\proj\\.venv\\Scripts\\python.exe");
  assert.deepEqual(chooseInterpreter(inputs({ platform: "win32", workspaceFolder: "C:\\proj" })), { python: "python", source: "default" });
});

test("without anything the default is python3", () => {
  assert.deepEqual(chooseInterpreter(inputs({ workspaceFolder: undefined })), { python: "python3", source: "default" });
});

test("the server is started as python -m schema_lsp serve", () => {
  assert.deepEqual(serverArgs(), ["-m", "schema_lsp", "serve"]);
});

test("probe failures name the interpreter and the fix", () => {
  assert.equal(describeProbeFailure("/p", "setting", { exitCode: 0, stderr: "" }), undefined);
  const missing = describeProbeFailure("/nope", "setting", { spawnError: "ENOENT", exitCode: null, stderr: "" });
  assert.match(missing ?? "", /cannot run Python interpreter "\/nope" \(the schemaLsp.python setting\)/);
  const notInstalled = describeProbeFailure("/p", "workspace-venv", {
    exitCode: 1,
    stderr: "Traceback...\nModuleNotFoundError: No module named 'schema_lsp'\n",
  });
  assert.match(notInstalled ?? "", /not installed for "\/p".*pip install schema-lsp/);
  const other = describeProbeFailure("/p", "default", { exitCode: 1, stderr: "boom\nImportError: bad thing\n" });
  assert.match(other ?? "", /exit 1\): ImportError: bad thing/);
});
