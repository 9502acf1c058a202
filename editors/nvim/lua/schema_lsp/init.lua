--- schema-lsp for Neovim: drift between SQLAlchemy models and the live database as
--- diagnostics, with code actions that write migrations.
---
--- Usage (Neovim 0.7 and later):
---
---   require("schema_lsp").setup({
---     -- everything is optional; these are the defaults
---     cmd = nil,            -- e.g. { "schema-lsp", "serve" }; default: see M.default_cmd
---     python = nil,         -- interpreter that runs the server; default: <root>/.venv/bin/python,
---                           -- else python3
---     settings = {},        -- the server's `schemaLsp` settings (camelCase), e.g.
---                           -- { databaseUrl = "sqlite:///shop.db", checkInterval = 10 }
---     filetypes = { "python" },
---     refresh_preview_on_save = true,
---     on_attach = nil,      -- function(client, bufnr)
---     capabilities = nil,   -- e.g. require("cmp_nvim_lsp").default_capabilities()
---     use_lsp_enable = true, -- on 0.11+: vim.lsp.config/vim.lsp.enable (false: FileType autocmd)
---   })
---
--- The server starts for Python buffers inside a project that has an `alembic.ini` or a
--- `pyproject.toml` with a `[tool.schema-lsp]` table (the nearest such directory is the root).
---
--- Commands: :SchemaLspCheck, :SchemaLspPreview, :SchemaLspNewRevision [message],
--- :SchemaLspAddAll, :SchemaLspRestart. Quick fixes come through vim.lsp.buf.code_action().

local M = {}

local NAME = "schema_lsp"
local uv = vim.loop or vim.uv
local is_windows = uv.os_uname().sysname:find("Windows") ~= nil
local sep = is_windows and "\\" or "/"

--- Defaults of setup()'s options.
local DEFAULTS = {
  cmd = nil,
  python = nil,
  settings = {},
  filetypes = { "python" },
  refresh_preview_on_save = true,
  on_attach = nil,
  capabilities = nil,
  use_lsp_enable = true,
}

--- Options after setup() (the defaults until then).
M.options = vim.deepcopy(DEFAULTS)

--- How setup() starts the server: "vim.lsp.enable" (0.11+), "vim.lsp.start" (0.8+) or
--- "vim.lsp.start_client" (0.7).
M.mode = nil

--- Latest `schemaLsp/status` notification per root ({state, driftCount, message, root}).
M.status = {}

--- Client ids started on Neovim 0.7 (where vim.lsp.start does not exist), keyed by root.
local clients_by_root = {}

-- ------------------------------------------------------------------ helpers

local function join(...)
  return table.concat({ ... }, sep)
end

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

local function read_file(path)
  local fd = io.open(path, "r")
  if not fd then
    return nil
  end
  local text = fd:read("*a")
  fd:close()
  return text
end

local function dirname(path)
  local parent = vim.fn.fnamemodify(path, ":h")
  return parent
end

local has_011 = vim.fn.has("nvim-0.11") == 1

--- Running clients (vim.lsp.get_clients on 0.10+, get_active_clients before).
local function all_clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients()
  end
  return vim.lsp.get_active_clients()
end

--- client:request() on 0.11+ (method call), client.request() before.
local function request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function stop_client(client)
  if has_011 then
    return client:stop()
  end
  return client.stop()
end

local function notify(msg, level)
  vim.notify("schema-lsp: " .. msg, level or vim.log.levels.INFO)
end

--- True when the text of a pyproject.toml has a `[tool.schema-lsp]` (or sub-) table.
function M.pyproject_has_section(text)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local name = line:match("^%s*%[%s*tool%s*%.%s*\"?schema[-_]lsp\"?%s*([%].])")
    if name then
      return true
    end
  end
  return false
end

--- True when `dir` is a schema-lsp project root.
function M.is_root(dir)
  if exists(join(dir, "alembic.ini")) then
    return true
  end
  local pyproject = join(dir, "pyproject.toml")
  if exists(pyproject) then
    local text = read_file(pyproject)
    return text ~= nil and M.pyproject_has_section(text)
  end
  return false
end

--- The nearest directory at or above `path` that is a schema-lsp project root, or nil.
function M.find_root(path)
  if path == nil or path == "" then
    return nil
  end
  local dir = vim.fn.fnamemodify(path, ":p")
  if vim.fn.isdirectory(dir) == 0 then
    dir = dirname(dir)
  end
  dir = dir:gsub("[/\\]$", "")
  while dir ~= nil and dir ~= "" do
    if M.is_root(dir) then
      return dir
    end
    local parent = dirname(dir)
    if parent == dir then
      break
    end
    dir = parent
  end
  return nil
end

--- The interpreter for `root`: options.python, else the root's virtual environment, else
--- python3 (python on Windows).
function M.python_for(root)
  if M.options.python and M.options.python ~= "" then
    return vim.fn.expand(M.options.python)
  end
  if root then
    for _, venv in ipairs({ ".venv", "venv" }) do
      local candidate = is_windows and join(root, venv, "Scripts", "python.exe") or join(root, venv, "bin", "python")
      if vim.fn.executable(candidate) == 1 then
        return candidate
      end
    end
  end
  return is_windows and "python" or "python3"
end

--- The command that starts the server for `root`: options.cmd, else `<python> -m schema_lsp serve`
--- with M.python_for(root).
function M.default_cmd(root)
  if M.options.cmd then
    return M.options.cmd
  end
  return { M.python_for(root), "-m", "schema_lsp", "serve" }
end

--- The `schemaLsp` settings sent to the server. Empty tables become JSON objects (a plain empty
--- Lua table would be sent as `[]`, which the server rejects).
local function server_settings()
  local settings = vim.tbl_deep_extend("force", {}, M.options.settings or {})
  -- An explicitly chosen interpreter also imports the models (the server would otherwise
  -- prefer the project's .venv).
  if settings.python == nil and M.options.python and M.options.python ~= "" then
    settings.python = vim.fn.expand(M.options.python)
  end
  for key, value in pairs(settings) do
    if type(value) == "table" and vim.tbl_isempty(value) and key == "severity" then
      settings[key] = nil
    end
  end
  if vim.tbl_isempty(settings) then
    return vim.empty_dict()
  end
  return settings
end

-- ------------------------------------------------------------------ status

local function on_status(_, result, ctx)
  -- Neovim 0.7 calls handlers as (err, result, ctx, config) like 0.8+.
  if type(result) ~= "table" then
    return
  end
  local key = result.root or (ctx and tostring(ctx.client_id)) or "?"
  M.status[key] = result
  vim.api.nvim_exec_autocmds("User", { pattern = "SchemaLspStatus", modeline = false })
end

--- One-line summary of the database state and drift count, for a statusline:
---   require("schema_lsp").statusline()  -> "schema-lsp: 3 drifts" / "schema-lsp: unreachable"
function M.statusline()
  local drift, worst = 0, nil
  local rank = { connected = 0, checking = 1, stale = 2, unreachable = 3, error = 4 }
  for _, s in pairs(M.status) do
    drift = drift + (tonumber(s.driftCount) or 0)
    if worst == nil or (rank[s.state] or 0) > (rank[worst] or 0) then
      worst = s.state
    end
  end
  if worst == nil then
    return ""
  end
  local count = drift == 1 and "1 drift" or (drift .. " drifts")
  if worst == "connected" then
    return "schema-lsp: " .. count
  end
  return "schema-lsp: " .. count .. " (" .. worst .. ")"
end

-- ------------------------------------------------------------------ starting

local function client_config(root)
  local settings = server_settings()
  return {
    name = NAME,
    cmd = M.default_cmd(root),
    cmd_cwd = root,
    root_dir = root,
    workspace_folders = {
      { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") },
    },
    settings = { schemaLsp = settings },
    init_options = { schemaLsp = settings },
    capabilities = M.options.capabilities or vim.lsp.protocol.make_client_capabilities(),
    handlers = { ["schemaLsp/status"] = on_status },
    on_attach = M.options.on_attach,
  }
end

--- Starts (or reuses) the client for `bufnr`'s project and attaches it. Returns the client id.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local root = M.find_root(name)
  if not root then
    return nil
  end
  if vim.lsp.start then
    -- Neovim 0.8+: reuses a running client with the same name and root_dir.
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  -- Neovim 0.7
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or (has_011 and client:is_stopped() or (not has_011 and client.is_stopped())) then
    id = vim.lsp.start_client(client_config(root))
    if not id then
      notify("could not start " .. table.concat(M.default_cmd(root), " "), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

-- ------------------------------------------------------------------ commands

--- The schema-lsp client attached to `bufnr` (or the first one running).
function M.get_client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local fallback
  for _, client in pairs(all_clients()) do
    if client.name == NAME then
      if vim.lsp.buf_is_attached and vim.lsp.buf_is_attached(bufnr, client.id) then
        return client
      end
      fallback = fallback or client
    end
  end
  return fallback
end

--- Arguments of the server's commands: the URI the command is about (the buffer's file, else
--- the client's root), then the command's own arguments.
local function command_args(client, bufnr, extra)
  local target = vim.uri_from_fname(client.config.root_dir)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name ~= "" and vim.bo[bufnr].buftype == "" then
    target = vim.uri_from_bufnr(bufnr)
  end
  local args = { target }
  for _, v in ipairs(extra or {}) do
    table.insert(args, v)
  end
  return args
end

--- Sends workspace/executeCommand `command` (arguments: the buffer's URI, then the list `extra`)
--- to the schema-lsp client of the current buffer; `callback(err, result)` gets the answer.
function M.execute(command, extra, callback)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.get_client(bufnr)
  if not client then
    notify("not running for this buffer (is there an alembic.ini or [tool.schema-lsp]?)", vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = command_args(client, bufnr, extra) }
  request(client, "workspace/executeCommand", params, function(err, result)
    if callback then
      callback(err, result)
    elseif err then
      notify(command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end, bufnr)
end

function M.check()
  M.execute("schemaLsp.check", nil, function(err)
    if err then
      notify("check failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end)
end

local function result_path(result)
  local value = result
  if type(result) == "table" then
    value = result.path or result.uri
  end
  if type(value) ~= "string" or value == "" then
    return nil
  end
  if value:match("^file:") then
    return vim.uri_to_fname(value)
  end
  return value
end

function M.new_revision(message)
  if message == nil or message == "" then
    message = vim.fn.input("Revision message: ")
  end
  if message == nil or message == "" then
    notify("a message is required", vim.log.levels.WARN)
    return
  end
  M.execute("schemaLsp.newRevision", { message }, function(err, result)
    if err then
      notify("new revision failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local path = result_path(result)
    if path then
      vim.cmd("edit " .. vim.fn.fnameescape(path))
    end
  end)
end

-- Preview -------------------------------------------------------------

local PREVIEW_NAME = "schema-lsp://next-revision.py"

local function preview_text(result)
  if type(result) == "string" then
    return result
  end
  if type(result) == "table" then
    for _, key in ipairs({ "text", "preview", "content", "source" }) do
      if type(result[key]) == "string" then
        return result[key]
      end
    end
    return vim.inspect(result)
  end
  return "# No drift: the next revision would be empty.\n"
end

local function preview_buffer()
  local buf = vim.fn.bufnr(PREVIEW_NAME)
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, PREVIEW_NAME)
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = "python"
  vim.bo[buf].modifiable = false
  return buf
end

local function set_preview(buf, text)
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" then
    table.remove(lines)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
end

--- Fetches the next revision's preview into the preview buffer; `open` shows it in a split.
function M.preview(open)
  M.execute("schemaLsp.previewRevision", nil, function(err, result)
    local buf = preview_buffer()
    if err then
      set_preview(buf, "# schema-lsp could not preview the next revision:\n# " .. (err.message or vim.inspect(err)))
    else
      set_preview(buf, preview_text(result))
    end
    if open and vim.fn.bufwinid(buf) == -1 then
      local current = vim.api.nvim_get_current_win()
      vim.cmd("vertical belowright sbuffer " .. buf)
      vim.api.nvim_set_current_win(current)
    end
  end)
end

--- Whether the preview buffer is shown in some window (then it is refreshed on save).
function M.preview_visible()
  local buf = vim.fn.bufnr(PREVIEW_NAME)
  return buf ~= -1 and vim.fn.bufwinid(buf) ~= -1
end

-- Add all ---------------------------------------------------------------

--- Index (1-based) of the best "add all drift" source action for `scope` ("workspace" or
--- "file"), falling back to the other scope; nil when there is none.
function M.choose_add_all(actions, scope)
  local function is_add_all(a)
    local kind = a.kind
    local ok_kind = kind == nil or kind == "source" or kind:sub(1, 7) == "source."
    return ok_kind and type(a.title) == "string" and a.title:lower():find("add all", 1, true) ~= nil
  end
  local function mentions(a, s)
    local t = a.title:lower()
    if s == "workspace" then
      return t:find("workspace", 1, true) ~= nil
    end
    return t:find("%f[%w]file%f[%W]") ~= nil
  end
  local order = scope == "file" and { "file", "workspace" } or { "workspace", "file" }
  for _, s in ipairs(order) do
    for i, a in ipairs(actions) do
      if is_add_all(a) and mentions(a, s) then
        return i
      end
    end
  end
  for i, a in ipairs(actions) do
    if is_add_all(a) then
      return i
    end
  end
  return nil
end

local function apply_action(client, action, bufnr)
  local function run(a)
    if a.edit then
      vim.lsp.util.apply_workspace_edit(a.edit, client.offset_encoding or "utf-16")
    end
    local command = type(a.command) == "table" and a.command or nil
    if command then
      request(client, "workspace/executeCommand", command, function(err)
        if err then
          notify(command.command .. " failed: " .. (err.message or ""), vim.log.levels.ERROR)
        end
      end, bufnr)
    end
  end
  local provider = client.server_capabilities and client.server_capabilities.codeActionProvider
  local resolvable = type(provider) == "table" and provider.resolveProvider
  if not action.edit and resolvable then
    request(client, "codeAction/resolve", action, function(err, resolved)
      if err then
        notify("resolving the action failed: " .. (err.message or ""), vim.log.levels.ERROR)
        return
      end
      run(resolved or action)
    end, bufnr)
  else
    run(action)
  end
end

--- Adds all drift (of the workspace, else of this file) to the migration, through the server's
--- source action.
function M.add_all(scope)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.get_client(bufnr)
  if not client then
    notify("not running for this buffer", vim.log.levels.WARN)
    return
  end
  local last = math.max(vim.api.nvim_buf_line_count(bufnr) - 1, 0)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = 0, character = 0 }, ["end"] = { line = last, character = 0 } },
    context = { diagnostics = {}, only = { "source" } },
  }
  request(client, "textDocument/codeAction", params, function(err, actions)
    if err then
      notify("code actions failed: " .. (err.message or ""), vim.log.levels.ERROR)
      return
    end
    actions = actions or {}
    local index = M.choose_add_all(actions, scope or "workspace")
    if not index then
      notify("no drift to add")
      return
    end
    apply_action(client, actions[index], bufnr)
  end, bufnr)
end

-- ------------------------------------------------------------------ setup

local function define_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd("SchemaLspCheck", function()
    M.check()
  end, { desc = "schema-lsp: compare the models with the database now" })
  cmd("SchemaLspPreview", function()
    M.preview(true)
  end, { desc = "schema-lsp: preview the next revision in a split" })
  cmd("SchemaLspNewRevision", function(o)
    M.new_revision(o.args)
  end, { nargs = "?", desc = "schema-lsp: write a new revision with the drift" })
  cmd("SchemaLspAddAll", function(o)
    M.add_all(o.args ~= "" and o.args or "workspace")
  end, {
    nargs = "?",
    complete = function()
      return { "workspace", "file" }
    end,
    desc = "schema-lsp: add all drift to the migration",
  })
  cmd("SchemaLspRestart", function()
    for _, client in pairs(all_clients()) do
      if client.name == NAME then
        stop_client(client)
      end
    end
    clients_by_root = {}
    vim.defer_fn(function()
      for _, buf in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.options.filetypes, vim.bo[buf].filetype) then
          M.start(buf)
        end
      end
    end, 500)
  end, { desc = "schema-lsp: restart the server" })
end

--- Configuration for vim.lsp.config (Neovim 0.11+) and nvim-lspconfig.
function M.lsp_config()
  return {
    -- A function, so the interpreter is chosen per root (its .venv). Neovim 0.11 passes the
    -- client config (with root_dir) as the second argument.
    cmd = M.options.cmd or function(dispatchers, config)
      local root = config and config.root_dir or uv.cwd()
      return vim.lsp.rpc.start(M.default_cmd(root), dispatchers, { cwd = root })
    end,
    filetypes = M.options.filetypes,
    root_dir = function(bufnr, on_dir)
      local root = M.find_root(vim.api.nvim_buf_get_name(bufnr))
      if root then
        on_dir(root)
      end
    end,
    settings = { schemaLsp = server_settings() },
    init_options = { schemaLsp = server_settings() },
    capabilities = M.options.capabilities,
    handlers = { ["schemaLsp/status"] = on_status },
    on_attach = M.options.on_attach,
  }
end

function M.setup(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(DEFAULTS), opts or {})
  define_commands()
  local group = vim.api.nvim_create_augroup("schema_lsp", { clear = true })

  if vim.lsp.config and vim.lsp.enable and M.options.use_lsp_enable ~= false then
    -- Neovim 0.11+: the built-in configuration framework starts and attaches the client.
    M.mode = "vim.lsp.enable"
    vim.lsp.config(NAME, M.lsp_config())
    vim.lsp.enable(NAME)
  else
    M.mode = vim.lsp.start and "vim.lsp.start" or "vim.lsp.start_client"
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = M.options.filetypes,
      callback = function(args)
        M.start(args.buf)
      end,
      desc = "schema-lsp: start the server in schema-lsp projects",
    })
    -- Buffers opened before setup() ran.
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.options.filetypes, vim.bo[buf].filetype) then
        M.start(buf)
      end
    end
  end

  vim.api.nvim_create_autocmd("BufWritePost", {
    group = group,
    pattern = "*.py",
    callback = function()
      if M.options.refresh_preview_on_save and M.preview_visible() and M.get_client() then
        M.preview(false)
      end
    end,
    desc = "schema-lsp: refresh the revision preview",
  })
end

return M
