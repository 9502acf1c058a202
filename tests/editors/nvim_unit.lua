-- Unit checks of editors/nvim's pure helpers, run headless by test_nvim.py.
-- Each check records its name and an error message when it fails; the result goes to
-- $SCHEMA_LSP_TEST_OUT as JSON and Neovim exits.

vim.opt.runtimepath:prepend(vim.env.SCHEMA_LSP_TEST_PLUGIN)
local m = require("schema_lsp")
local results = {}

local function check(name, fn)
  local ok, err = pcall(fn)
  table.insert(results, { name = name, ok = ok, error = ok and vim.NIL or tostring(err) })
end

local function eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error((what or "value") .. ": got " .. vim.inspect(got) .. ", want " .. vim.inspect(want), 2)
  end
end

local function write(path, text)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ":h"), "p")
  local fd = assert(io.open(path, "w"))
  fd:write(text)
  fd:close()
end

local tmp = vim.env.SCHEMA_LSP_TEST_TMP

check("pyproject section detection", function()
  eq(m.pyproject_has_section('[project]\nname = "x"\n\n[tool.schema-lsp]\nmodels = ["a:b"]\n'), true)
  eq(m.pyproject_has_section("[tool.schema-lsp.severity]\n"), true)
  eq(m.pyproject_has_section('[tool."schema-lsp"]\n'), true)
  eq(m.pyproject_has_section("[tool.ruff]\n# [tool.schema-lsp]\n"), false)
  eq(m.pyproject_has_section("[tool.schema-lsp-other]\n"), false)
end)

check("find_root picks the nearest configured directory", function()
  write(tmp .. "/a/pyproject.toml", "[tool.schema-lsp]\n")
  write(tmp .. "/a/pkg/models.py", "")
  write(tmp .. "/a/sub/alembic.ini", "[alembic]\n")
  write(tmp .. "/a/sub/app/models.py", "")
  write(tmp .. "/b/pyproject.toml", "[tool.black]\n")
  write(tmp .. "/b/models.py", "")
  eq(m.find_root(tmp .. "/a/pkg/models.py"), tmp .. "/a", "pyproject root")
  eq(m.find_root(tmp .. "/a/sub/app/models.py"), tmp .. "/a/sub", "nearer alembic.ini root")
  eq(m.find_root(tmp .. "/b/models.py"), nil, "pyproject without [tool.schema-lsp]")
  eq(m.find_root(""), nil, "unnamed buffer")
end)

check("interpreter: option, then the root's .venv, then python3", function()
  write(tmp .. "/v/.venv/bin/python", "#!/bin/sh\n")
  vim.fn.setfperm(tmp .. "/v/.venv/bin/python", "rwxr-xr-x")
  eq(m.python_for(tmp .. "/v"), tmp .. "/v/.venv/bin/python")
  eq(m.python_for(tmp .. "/a"), "python3")
  eq(m.default_cmd(tmp .. "/v"), { tmp .. "/v/.venv/bin/python", "-m", "schema_lsp", "serve" })
  m.options.python = "/opt/py/bin/python"
  eq(m.python_for(tmp .. "/v"), "/opt/py/bin/python")
  m.options.python = nil
  m.options.cmd = { "schema-lsp", "serve" }
  eq(m.default_cmd(tmp .. "/v"), { "schema-lsp", "serve" })
  m.options.cmd = nil
end)

check("add-all action choice", function()
  local actions = {
    { title = "Add to migration 0003_x.py", kind = "quickfix" },
    { title = "Add all drift in this file", kind = "source.schemaLsp.addAll" },
    { title = "Add all drift in the workspace", kind = "source.schemaLsp.addAllWorkspace" },
    { title = "Create a new revision with these changes", kind = "source" },
  }
  eq(m.choose_add_all(actions, "workspace"), 3)
  eq(m.choose_add_all(actions, "file"), 2)
  eq(m.choose_add_all({ actions[1], actions[2] }, "workspace"), 2)
  eq(m.choose_add_all({ actions[1], actions[4] }, "workspace"), nil)
  eq(m.choose_add_all({ { title = "Add all drift in the workspace", kind = "quickfix" } }, "workspace"), nil)
end)

check("statusline sums drift and shows the worst state", function()
  m.status = {}
  eq(m.statusline(), "")
  m.status = { a = { state = "connected", driftCount = 1, root = "a" } }
  eq(m.statusline(), "schema-lsp: 1 drift")
  m.status.b = { state = "unreachable", driftCount = 2, root = "b" }
  eq(m.statusline(), "schema-lsp: 3 drifts (unreachable)")
  m.status = {}
end)

check("setup defines the user commands", function()
  m.setup({})
  for _, name in ipairs({ "SchemaLspCheck", "SchemaLspPreview", "SchemaLspNewRevision", "SchemaLspAddAll", "SchemaLspRestart" }) do
    eq(vim.fn.exists(":" .. name), 2, name)
  end
end)

check("empty settings are sent as a JSON object", function()
  m.setup({ settings = {} })
  local cfg = m.lsp_config()
  eq((vim.fn.json_encode(cfg.init_options):gsub("%s", "")), '{"schemaLsp":{}}')
  m.setup({ settings = { checkInterval = 5, severity = {} } })
  eq(vim.fn.json_decode(vim.fn.json_encode(m.lsp_config().settings)), { schemaLsp = { checkInterval = 5 } })
  -- An explicit interpreter is also the one that imports the models.
  m.setup({ python = "/opt/py/bin/python", settings = {} })
  eq(m.lsp_config().settings, { schemaLsp = { python = "/opt/py/bin/python" } })
  m.setup({ python = "/opt/py/bin/python", settings = { python = "/other/python" } })
  eq(m.lsp_config().settings.schemaLsp.python, "/other/python")
  m.options.python = nil
  m.options.settings = {}
end)

-- A stand-in client: records requests and answers them from `answers[method]`.
local function fake_client(answers)
  local fake = { id = 9999, name = "schema_lsp", offset_encoding = "utf-16", calls = {} }
  fake.config = { root_dir = tmp .. "/a" }
  fake.server_capabilities = { codeActionProvider = true }
  fake.request = function(a, b, c, d, e)
    local method, params, handler, bufnr = a, b, c, d
    if a == fake then -- client:request(...) on Neovim 0.11+
      method, params, handler, bufnr = b, c, d, e
    end
    table.insert(fake.calls, { method = method, params = params, bufnr = bufnr })
    local answer = answers[method]
    if type(answer) == "function" then
      answer = answer(params)
    end
    handler(nil, answer, { method = method, client_id = fake.id })
    return true, 1
  end
  return fake
end

check("commands send the buffer URI first, then their arguments", function()
  local path = tmp .. "/a/pkg/models.py"
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local revision = tmp .. "/a/migrations/0003_new.py"
  write(revision, "# new revision\n")
  local fake = fake_client({ ["workspace/executeCommand"] = { path = revision } })
  local original = m.get_client
  m.get_client = function()
    return fake
  end
  m.new_revision("add reviews")
  m.get_client = original
  eq(fake.calls[1].method, "workspace/executeCommand")
  eq(fake.calls[1].params, { command = "schemaLsp.newRevision", arguments = { vim.uri_from_fname(path), "add reviews" } })
  eq(vim.api.nvim_buf_get_name(0), revision, "the new revision is opened")
end)

check("the preview split shows the server's text, read-only", function()
  vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/a/pkg/models.py"))
  vim.cmd("only")
  local fake = fake_client({ ["workspace/executeCommand"] = "def upgrade():\n    op.add_column('users')\n" })
  local original = m.get_client
  m.get_client = function()
    return fake
  end
  m.preview(true)
  m.get_client = original
  eq(fake.calls[1].params.command, "schemaLsp.previewRevision")
  local buf = vim.fn.bufnr("schema-lsp://next-revision.py")
  eq(buf ~= -1, true, "preview buffer exists")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { "def upgrade():", "    op.add_column('users')" })
  eq(vim.bo[buf].modifiable, false, "read-only")
  eq(vim.bo[buf].buftype, "nofile")
  eq(m.preview_visible(), true, "shown in a split")
  eq(#vim.api.nvim_list_wins(), 2)
  eq(vim.api.nvim_buf_get_name(0), tmp .. "/a/pkg/models.py", "focus stays on the models")
end)

check(":SchemaLspAddAll applies the workspace action's edit and runs its command", function()
  local target = tmp .. "/a/migrations/0002_x.py"
  write(target, "def upgrade():\n    pass\n")
  vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/a/pkg/models.py"))
  local uri = vim.uri_from_fname(target)
  local actions = {
    { title = "Add all drift in this file", kind = "source.schemaLsp.addAll" },
    {
      title = "Add all drift in the workspace",
      kind = "source.schemaLsp.addAll.workspace",
      edit = { changes = { [uri] = { {
        range = { start = { line = 1, character = 4 }, ["end"] = { line = 1, character = 8 } },
        newText = "op.add_column('users', sa.Column('email_verified', sa.Boolean()))",
      } } } },
      command = { title = "check", command = "schemaLsp.check", arguments = { uri } },
    },
  }
  local fake = fake_client({ ["textDocument/codeAction"] = actions, ["workspace/executeCommand"] = vim.NIL })
  local original = m.get_client
  m.get_client = function()
    return fake
  end
  vim.cmd("SchemaLspAddAll")
  m.get_client = original
  eq(fake.calls[1].method, "textDocument/codeAction")
  eq(fake.calls[1].params.context.only, { "source" })
  local buf = vim.fn.bufnr(target)
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false)[2], "    op.add_column('users', sa.Column('email_verified', sa.Boolean()))")
  eq(fake.calls[2].method, "workspace/executeCommand")
  eq(fake.calls[2].params.command, "schemaLsp.check")
end)

-- Stand-ins for Neovim 0.11's vim.lsp.config / vim.lsp.enable / vim.lsp.rpc.start, so the
-- current-Neovim code path is checked on every version (Debian's 0.7 has none of them).
local function with_lsp_config_stub(fn)
  local saved = { config = vim.lsp.config, enable = vim.lsp.enable, rpc_start = vim.lsp.rpc.start }
  local calls = { config = {}, enable = {}, rpc = {} }
  vim.lsp.config = function(name, cfg)
    table.insert(calls.config, { name = name, cfg = cfg })
  end
  vim.lsp.enable = function(name)
    table.insert(calls.enable, name)
  end
  vim.lsp.rpc.start = function(cmd, dispatchers, opts)
    table.insert(calls.rpc, { cmd = cmd, dispatchers = dispatchers, opts = opts })
    return { fake_rpc = true }
  end
  local ok, err = pcall(fn, calls)
  vim.lsp.config, vim.lsp.enable, vim.lsp.rpc.start = saved.config, saved.enable, saved.rpc_start
  if not ok then
    error(err, 0)
  end
end

local function filetype_autocmds()
  local ok, cmds = pcall(vim.api.nvim_get_autocmds, { group = "schema_lsp", event = "FileType" })
  return ok and #cmds or 0
end

check("setup on current Neovim registers through vim.lsp.config and vim.lsp.enable", function()
  with_lsp_config_stub(function(calls)
    m.setup({ python = "/opt/py/bin/python", settings = { checkInterval = 5 }, filetypes = { "python" } })
    eq(m.mode, "vim.lsp.enable")
    eq(#calls.config, 1, "vim.lsp.config calls")
    eq(calls.config[1].name, "schema_lsp")
    eq(calls.enable, { "schema_lsp" })
    eq(filetype_autocmds(), 0, "no FileType autocmd of its own")
    local cfg = calls.config[1].cfg
    eq(cfg.filetypes, { "python" })
    eq(cfg.settings, { schemaLsp = { checkInterval = 5, python = "/opt/py/bin/python" } })
    eq(cfg.init_options, cfg.settings)
    eq(type(cfg.handlers["schemaLsp/status"]), "function", "status handler")
    -- root_dir(bufnr, on_dir): the project's root for its files, nothing elsewhere.
    local roots = {}
    vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/a/pkg/models.py"))
    cfg.root_dir(vim.api.nvim_get_current_buf(), function(root)
      table.insert(roots, root)
    end)
    vim.cmd("edit " .. vim.fn.fnameescape(tmp .. "/b/models.py"))
    cfg.root_dir(vim.api.nvim_get_current_buf(), function(root)
      table.insert(roots, root)
    end)
    eq(roots, { tmp .. "/a" }, "roots found")
    -- cmd(dispatchers, config): the server runs in the root, with the chosen interpreter.
    eq(type(cfg.cmd), "function", "cmd is chosen per root")
    local rpc = cfg.cmd({ "dispatchers" }, { root_dir = tmp .. "/a" })
    eq(rpc, { fake_rpc = true })
    eq(calls.rpc[1].cmd, { "/opt/py/bin/python", "-m", "schema_lsp", "serve" })
    eq(calls.rpc[1].opts, { cwd = tmp .. "/a" })
    eq(calls.rpc[1].dispatchers, { "dispatchers" })
    -- The status handler feeds the statusline.
    m.status = {}
    cfg.handlers["schemaLsp/status"](nil, { state = "connected", driftCount = 2, root = "r" }, { client_id = 1 })
    eq(m.statusline(), "schema-lsp: 2 drifts")
    m.status = {}
  end)
end)

check("use_lsp_enable = false keeps the FileType autocmd on current Neovim", function()
  with_lsp_config_stub(function(calls)
    m.setup({ use_lsp_enable = false, cmd = { "schema-lsp", "serve" } })
    eq(m.mode, vim.lsp.start and "vim.lsp.start" or "vim.lsp.start_client")
    eq(#calls.config + #calls.enable, 0, "vim.lsp.config/enable not used")
    eq(filetype_autocmds(), 1, "FileType autocmd")
    eq(m.lsp_config().cmd, { "schema-lsp", "serve" }, "an explicit cmd is used as is")
  end)
  m.options.cmd = nil
end)

local fd = assert(io.open(vim.env.SCHEMA_LSP_TEST_OUT, "w"))
fd:write(vim.fn.json_encode(results))
fd:close()
vim.cmd("qall!")
