#!/usr/bin/env bash
# Builds, tests and packages the VS Code extension, then runs the protocol smoke test: the same
# steps as tests/editors/test_vscode.py (which is how CI runs them, from the README's pytest
# command), for working on the extension alone.
#
#   SCHEMA_LSP_PYTHON=/path/to/python editors/vscode/ci.sh
#
# SCHEMA_LSP_PYTHON: interpreter with schema-lsp installed (default: python3). It writes the
# server's settings for the settings test and runs the server for the smoke test, which fails
# (instead of skipping) when the server is missing.
# Needs node >= 20 and npm with access to the npm registry; packaging (vsce) works offline.
set -euo pipefail
cd "$(dirname "$0")"
export SCHEMA_LSP_PYTHON="${SCHEMA_LSP_PYTHON:-python3}"
export SCHEMA_LSP_REQUIRE_SERVER=1

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== server settings (from schema_lsp/server/config.py)"
"$SCHEMA_LSP_PYTHON" scripts/server_settings.py out/server-settings.json

echo "== typecheck, compile (tsc, strict) and bundle (esbuild)"
npm run --silent build

echo "== unit tests (node --test)"
npm test --silent

echo "== package (vsce)"
rm -f schema-lsp.vsix
npm run --silent package
node -e '
const fs = require("fs");
const buf = fs.readFileSync("schema-lsp.vsix");
for (const name of ["extension/package.json", "extension/dist/extension.js", "extension/readme.md"]) {
  if (!buf.includes(Buffer.from(name))) { console.error("vsix lacks " + name); process.exit(1); }
}
console.log("schema-lsp.vsix: " + buf.length + " bytes");
'

echo "== protocol smoke test against examples/shop (python: $SCHEMA_LSP_PYTHON)"
npm run --silent smoke
