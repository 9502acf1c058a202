import assert from "node:assert/strict";
import { test } from "node:test";

import { chooseAddAllAction, previewText } from "../src/actions";
import { pyprojectHasSchemaLsp, shouldStart } from "../src/project";
import { RestartPolicy } from "../src/restartPolicy";

test("restarts stop after the limit within the window and resume after it", () => {
  const p = new RestartPolicy(2, 1000);
  assert.equal(p.shouldRestart(0), true);
  assert.equal(p.shouldRestart(10), true);
  assert.equal(p.shouldRestart(20), false);
  assert.equal(p.shouldRestart(5000), true, "old crashes fall out of the window");
  p.reset();
  assert.equal(p.recentCrashes, 0);
  assert.equal(new RestartPolicy(0).shouldRestart(0), false);
});

test("pyproject detection needs a [tool.schema-lsp] table", () => {
  assert.equal(pyprojectHasSchemaLsp('[project]\nname="x"\n\n[tool.schema-lsp]\nmodels=["a:b"]\n'), true);
  assert.equal(pyprojectHasSchemaLsp("[tool.schema-lsp.severity]\nadd_column='hint'\n"), true);
  assert.equal(pyprojectHasSchemaLsp('[tool."schema-lsp"]\n'), true);
  assert.equal(pyprojectHasSchemaLsp("[tool.ruff]\n# [tool.schema-lsp] in a comment\n"), false);
  assert.equal(pyprojectHasSchemaLsp("[tool.schema-lsp-other]\n"), false);
});

test("shouldStart follows the enable setting and the project files", () => {
  const base = { enable: "auto", modelsConfigured: false, hasAlembicIni: false, pyproject: undefined };
  assert.equal(shouldStart(base), false);
  assert.equal(shouldStart({ ...base, hasAlembicIni: true }), true);
  assert.equal(shouldStart({ ...base, modelsConfigured: true }), true);
  assert.equal(shouldStart({ ...base, pyproject: "[tool.schema-lsp]\n" }), true);
  assert.equal(shouldStart({ ...base, enable: "always" }), true);
  assert.equal(shouldStart({ ...base, enable: "never", hasAlembicIni: true }), false);
});

test("add-all picks the workspace source action, then the file one", () => {
  const actions = [
    { title: "Add to migration 0002_x.py", kind: "quickfix" },
    { title: "Add all drift in this file", kind: "source.schemaLsp.addAllFile" },
    { title: "Add all drift in the workspace", kind: "source.schemaLsp.addAllWorkspace" },
    { title: "Create a new revision with these changes", kind: "source" },
  ];
  assert.equal(chooseAddAllAction(actions, "workspace"), 2);
  assert.equal(chooseAddAllAction(actions, "file"), 1);
  assert.equal(chooseAddAllAction(actions.slice(0, 2), "workspace"), 1);
  assert.equal(chooseAddAllAction([actions[0]!, actions[3]!], "workspace"), -1);
  assert.equal(chooseAddAllAction([{ title: "Add all drift in the workspace", kind: "quickfix" }], "workspace"), -1);
});

test("preview text comes from a string or a {text} object", () => {
  assert.equal(previewText("def upgrade():\n"), "def upgrade():\n");
  assert.equal(previewText({ text: "abc" }), "abc");
  assert.match(previewText(null), /No drift/);
  assert.equal(previewText({ n: 1 }), '{\n  "n": 1\n}');
});
