#!/usr/bin/env bash
# Builds, tests and packages the VS Code extension, then runs the protocol smoke test.
#
#   SCHEMA_LSP_PYTHON=/path/to/python editors/vscode/ci.sh
#
# SCHEMA_LSP_PYTHON: interpreter with schema-lsp installed (default: python3).
# SCHEMA_LSP_REQUIRE_SERVER=1 (default under CI=true): fail instead of skipping the smoke test
# when the server is missing.
# Needs node >= 20 and npm with access to the npm registry; nothing else installed by hand.
set -euo pipefail
cd "$(dirname "$0")"
export SCHEMA_LSP_PYTHON="${SCHEMA_LSP_PYTHON:-python3}"
# In CI the server must be there: a missing one fails the smoke test instead of skipping it.
if [ "${CI:-}" = "true" ]; then
  export SCHEMA_LSP_REQUIRE_SERVER="${SCHEMA_LSP_REQUIRE_SERVER:-1}"
fi

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== typecheck and compile (tsc, strict)"
npx --no-install tsc -p .

echo "== bundle (esbuild)"
node esbuild.mjs

echo "== unit tests (node --test)"
node --test out/test/

echo "== package (vsce)"
rm -f schema-lsp.vsix
npx --no-install vsce package --no-dependencies --allow-missing-repository -o schema-lsp.vsix
node -e '
const fs = require("fs");
const buf = fs.readFileSync("schema-lsp.vsix");
for (const name of ["extension/package.json", "extension/dist/extension.js", "extension/readme.md"]) {
  if (!buf.includes(Buffer.from(name))) { console.error("vsix lacks " + name); process.exit(1); }
}
console.log("schema-lsp.vsix: " + buf.length + " bytes");
'

echo "== protocol smoke test against examples/shop (python: $SCHEMA_LSP_PYTHON)"
node --test out/test-smoke/smoke.js
