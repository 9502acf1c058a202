-- Headless Neovim scenario for tests/editors/test_nvim.py (run with `nvim --headless -u NONE`).
--
-- Environment:
--   SCHEMA_LSP_TEST_PLUGIN  editors/nvim (put on 'runtimepath')
--   SCHEMA_LSP_TEST_FILE    the models file to open
--   SCHEMA_LSP_TEST_PYTHON  interpreter with schema-lsp installed (the plugin's `python` option)
--   SCHEMA_LSP_TEST_OUT     where the JSON result is written
--   SCHEMA_LSP_TEST_PHASE   "diagnostics", "preview", "codeaction", "addall" or "newrevision"
--   SCHEMA_LSP_TEST_FIX     (codeaction) the line (1-based) whose quick fix is applied
--   SCHEMA_LSP_TEST_MIGRATIONS (codeaction, addall, newrevision) the migrations folder
--   SCHEMA_LSP_TEST_MODE    "autocmd": setup({use_lsp_enable = false}) (vim.lsp.start on 0.11+)
--   SCHEMA_LSP_TEST_TIMEOUT seconds to wait for the server (default 90)
--
-- Every wait polls a condition with vim.wait (no fixed delays); the result (or the error) is
-- written as JSON and Neovim exits with 0, or 1 when the scenario itself failed.

local env = vim.env
local out = {
  phase = env.SCHEMA_LSP_TEST_PHASE,
  nvim = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch),
  steps = {},
}
local timeout_ms = (tonumber(env.SCHEMA_LSP_TEST_TIMEOUT) or 90) * 1000

local function clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients(bufnr and { bufnr = bufnr } or nil)
  end
  return bufnr and vim.lsp.buf_get_clients(bufnr) or vim.lsp.get_active_clients()
end

local function step(name)
  table.insert(out.steps, name)
end

local function write_out()
  local fd = assert(io.open(env.SCHEMA_LSP_TEST_OUT, "w"))
  fd:write(vim.fn.json_encode(out))
  fd:close()
end

local function lsp_log_tail()
  local path = vim.lsp.get_log_path()
  local fd = io.open(path, "r")
  if not fd then
    return ""
  end
  local text = fd:read("*a")
  fd:close()
  return text:sub(-4000)
end

local function schema_diagnostics(bufnr)
  local result = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    local source = d.source or lsp.source
    if source == "schema-lsp" then
      table.insert(result, {
        line = d.lnum + 1,
        col = d.col,
        code = d.code or lsp.code,
        severity = d.severity,
        message = d.message,
      })
    end
  end
  table.sort(result, function(a, b)
    if a.line ~= b.line then
      return a.line < b.line
    end
    return tostring(a.code) < tostring(b.code)
  end)
  return result
end

local function scenario()
  vim.opt.runtimepath:prepend(env.SCHEMA_LSP_TEST_PLUGIN)
  vim.cmd("filetype on")
  if vim.lsp.log and vim.lsp.log.set_level then
    vim.lsp.log.set_level("info")
  else
    vim.lsp.set_log_level("info")
  end
  local schema_lsp = require("schema_lsp")
  -- The interpreter option (not a fixed cmd), so the plugin builds `<python> -m schema_lsp serve`
  -- itself: per root on 0.7-0.10, through a cmd function on 0.11+.
  schema_lsp.setup({ python = env.SCHEMA_LSP_TEST_PYTHON, use_lsp_enable = env.SCHEMA_LSP_TEST_MODE ~= "autocmd" })
  out.mode = schema_lsp.mode
  out.cmd = schema_lsp.default_cmd(vim.fn.getcwd())
  step("setup")

  vim.cmd("edit " .. vim.fn.fnameescape(env.SCHEMA_LSP_TEST_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  out.filetype = vim.bo[bufnr].filetype

  local attached = vim.wait(15000, function()
    return schema_lsp.get_client(bufnr) ~= nil and #clients(bufnr) > 0
  end, 50)
  assert(attached, "the schema-lsp client did not attach to " .. env.SCHEMA_LSP_TEST_FILE)
  local client = schema_lsp.get_client(bufnr)
  out.root = client.config.root_dir
  step("attached")

  -- schema-lsp publishes a check's diagnostics, then sends schemaLsp/status with the check's
  -- outcome (Neovim handles both in order): once the status is no longer "checking" and
  -- reports drift, every diagnostic of that check is in.
  local function check_finished()
    for _, s in pairs(schema_lsp.status) do
      if s.state ~= "checking" and (tonumber(s.driftCount) or 0) > 0 then
        return #schema_diagnostics(bufnr) > 0
      end
    end
    return false
  end
  local ok = vim.wait(timeout_ms, check_finished, 50)
  if not ok then
    error("no finished schema-lsp check with diagnostics within " .. timeout_ms .. " ms; status: "
      .. vim.inspect(schema_lsp.status) .. "; diagnostics: " .. #schema_diagnostics(bufnr)
      .. "\nLSP log:\n" .. lsp_log_tail())
  end
  out.diagnostics = schema_diagnostics(bufnr)
  out.status = vim.deepcopy(schema_lsp.status)
  out.statusline = schema_lsp.statusline()
  step("diagnostics")

  -- :SchemaLspCheck's request, with its answer captured.
  local answer
  schema_lsp.execute("schemaLsp.check", nil, function(err, result)
    answer = { err = err or vim.NIL, result = result or vim.NIL }
  end)
  assert(vim.wait(15000, function()
    return answer ~= nil
  end, 50), "schemaLsp.check got no answer")
  out.check = answer
  step("check")

  if env.SCHEMA_LSP_TEST_PHASE == "preview" then
    vim.cmd("SchemaLspPreview")
    local preview_buf
    local shown = vim.wait(30000, function()
      preview_buf = vim.fn.bufnr("schema-lsp://next-revision.py")
      if preview_buf == -1 or vim.fn.bufwinid(preview_buf) == -1 then
        return false
      end
      local text = table.concat(vim.api.nvim_buf_get_lines(preview_buf, 0, -1, false), "\n")
      return text:find("def upgrade", 1, true) ~= nil or text:find("could not preview", 1, true) ~= nil
    end, 50)
    assert(shown, "the preview split did not open")
    out.preview = table.concat(vim.api.nvim_buf_get_lines(preview_buf, 0, -1, false), "\n")
    out.preview_modifiable = vim.bo[preview_buf].modifiable
    out.preview_windows = #vim.api.nvim_list_wins()
    step("preview")
    -- Saving a Python file refreshes the preview.
    local tick = vim.api.nvim_buf_get_changedtick(preview_buf)
    vim.cmd("write")
    out.preview_refreshed = vim.wait(30000, function()
      return vim.api.nvim_buf_get_changedtick(preview_buf) > tick
    end, 50)
    step("refresh")
    return
  end

  if env.SCHEMA_LSP_TEST_PHASE == "newrevision" then
    local marker = env.SCHEMA_LSP_TEST_MIGRATIONS
    local before_files = vim.fn.glob(marker .. "/**/*.py", false, true)
    vim.cmd("SchemaLspNewRevision add email verification")
    local models_buf = bufnr
    local opened = vim.wait(30000, function()
      local name = vim.api.nvim_buf_get_name(0)
      return vim.api.nvim_get_current_buf() ~= models_buf and name:find("migrations", 1, true) ~= nil
    end, 50)
    out.opened = vim.api.nvim_buf_get_name(0)
    assert(opened, "the new revision was not opened; current buffer: " .. out.opened)
    out.new_files = {}
    local seen = {}
    for _, f in ipairs(before_files) do
      seen[f] = true
    end
    for _, f in ipairs(vim.fn.glob(marker .. "/**/*.py", false, true)) do
      if not seen[f] then
        table.insert(out.new_files, f)
      end
    end
    step("newrevision")
    return
  end

  if env.SCHEMA_LSP_TEST_PHASE ~= "codeaction" and env.SCHEMA_LSP_TEST_PHASE ~= "addall" then
    return
  end

  local caps = client.server_capabilities or {}
  assert(caps.codeActionProvider, "the server does not offer code actions (no codeActionProvider)")
  local before = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    before[b] = true
  end
  local offered, chosen = nil, nil
  if env.SCHEMA_LSP_TEST_PHASE == "addall" then
    vim.cmd("SchemaLspAddAll")
    chosen = "SchemaLspAddAll"
  else
  -- Apply a quick fix through the built-in vim.lsp.buf.code_action(), choosing the
  -- "Add to migration ..." entry in vim.ui.select as a user would.
  local line = tonumber(env.SCHEMA_LSP_TEST_FIX)
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  vim.ui.select = function(items, opts, on_choice)
    offered = {}
    local pick
    for i, item in ipairs(items) do
      local action = item.action or item[2] or item
      local title = action.title or (opts.format_item and opts.format_item(item)) or tostring(item)
      table.insert(offered, title)
      if pick == nil and title:match("^Add to migration") then
        pick = i
      end
    end
    if pick then
      chosen = offered[pick]
      on_choice(items[pick], pick)
    else
      on_choice(nil, nil)
    end
  end
  vim.lsp.buf.code_action()
  local got_menu = vim.wait(30000, function()
    return offered ~= nil
  end, 50)
  out.offered = offered
  out.chosen = chosen
  assert(got_menu, "vim.lsp.buf.code_action() offered no code actions on line " .. line)
  assert(chosen, "no 'Add to migration' action among: " .. vim.inspect(offered))
  end
  step("chosen")

  -- The action either edits buffers (then they are written) or the server writes the file.
  local function touched()
    local names = {}
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and (vim.bo[b].modified or not before[b]) then
        local name = vim.api.nvim_buf_get_name(b)
        if name ~= "" and vim.bo[b].buftype == "" then
          table.insert(names, name)
        end
      end
    end
    return names
  end
  local marker = env.SCHEMA_LSP_TEST_MIGRATIONS
  local function migrations_listing()
    local parts = {}
    for _, f in ipairs(vim.fn.glob(marker .. "/**/*.py", false, true)) do
      table.insert(parts, f .. "@" .. vim.fn.getftime(f) .. "#" .. vim.fn.getfsize(f))
    end
    return table.concat(parts, "\n")
  end
  local listing = marker and migrations_listing() or ""
  vim.wait(30000, function()
    return #touched() > 0 or (marker ~= nil and migrations_listing() ~= listing)
  end, 100)
  out.edited_buffers = touched()
  vim.cmd("silent! wall")
  local saved = vim.wait(10000, function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and vim.bo[b].modified and vim.bo[b].buftype == "" then
        return false
      end
    end
    return true
  end, 50)
  assert(saved, "edited buffers could not be written")
  step("applied")
end

local ok, err = xpcall(scenario, debug.traceback)
if not ok then
  out.error = tostring(err)
end
pcall(write_out)
for _, client in pairs(clients()) do
  if vim.fn.has("nvim-0.11") == 1 then
    client:stop()
  else
    client.stop()
  end
end
vim.wait(3000, function()
  return #clients() == 0
end, 50)
vim.cmd(ok and "qall!" or "cquit! 1")
