-- Neovim configuration for the screenshot demo (scripts/screenshot.py): the plugin on
-- 'runtimepath', diagnostics as virtual text and signs, the drift count in the statusline.
-- When schema-lsp's check is done it writes the diagnostics and the screen's text to
-- $SCHEMA_LSP_DEMO_MARKER.
local env = vim.env
vim.opt.runtimepath:prepend(env.SCHEMA_LSP_DEMO_PLUGIN)
vim.cmd("filetype plugin on")
vim.cmd("syntax on")
vim.opt.number = true
vim.opt.signcolumn = "yes"
vim.opt.laststatus = 2
vim.opt.cursorline = false
vim.opt.wrap = false
vim.opt.swapfile = false
vim.opt.shortmess:append("I")

function _G.SchemaLspDemoStatus()
  return require("schema_lsp").statusline()
end
vim.opt.statusline = " %f %= %{v:lua.SchemaLspDemoStatus()} "

vim.cmd("highlight SignColumn ctermbg=NONE guibg=NONE")
vim.diagnostic.config({ virtual_text = { prefix = "●" }, signs = true, underline = true, severity_sort = true })

require("schema_lsp").setup({
  cmd = vim.fn.json_decode(env.SCHEMA_LSP_DEMO_CMD),
})

--- The screen as Neovim drew it (text only), one string per row: the capture script waits
--- until tmux shows exactly this, so the picture is taken once everything is drawn.
local function screen_text()
  local rows = {}
  for row = 1, vim.o.lines do
    local cells = {}
    for col = 1, vim.o.columns do
      table.insert(cells, vim.fn.screenstring(row, col))
    end
    rows[row] = (table.concat(cells):gsub("%s+$", ""))
  end
  return rows
end

local function schema_diagnostics()
  local messages = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    if d.source == "schema-lsp" then
      table.insert(messages, { line = d.lnum + 1, message = d.message })
    end
  end
  return messages
end

local function done(messages)
  vim.cmd("redraw!")
  -- Written beside the marker, then renamed: the script polls for the marker and
  -- must never read it half-written.
  local partial = env.SCHEMA_LSP_DEMO_MARKER .. ".partial"
  local fd = io.open(partial, "w")
  if fd then
    fd:write(vim.fn.json_encode({ diagnostics = messages, screen = screen_text() }))
    fd:close()
    os.rename(partial, env.SCHEMA_LSP_DEMO_MARKER)
  end
end

--- Opens :SchemaLspPreview beside the models; calls `then_` once it shows the revision.
local function show_preview(then_)
  vim.cmd("SchemaLspPreview")
  local timer = vim.loop.new_timer()
  timer:start(50, 50, vim.schedule_wrap(function()
    local buf = vim.fn.bufnr("schema-lsp://next-revision.py")
    if buf == -1 or vim.fn.bufwinid(buf) == -1 then
      return
    end
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    for i, l in ipairs(lines) do
      if l:find("def upgrade", 1, true) then
        timer:stop()
        local win = vim.fn.bufwinid(buf)
        vim.api.nvim_win_set_cursor(win, { i, 0 })
        vim.api.nvim_win_call(win, function()
          vim.cmd("normal! zt")
        end)
        then_()
        return
      end
    end
  end))
end

-- schema-lsp publishes a check's diagnostics, then its schemaLsp/status: the first status
-- that is no longer "checking", with drift, means the diagnostics are all there.
local written = false
vim.api.nvim_create_autocmd("User", {
  pattern = "SchemaLspStatus",
  callback = function()
    if written then
      return
    end
    local finished = false
    for _, s in pairs(require("schema_lsp").status) do
      finished = finished or (s.state ~= "checking" and (tonumber(s.driftCount) or 0) > 0)
    end
    local messages = schema_diagnostics()
    if not finished or #messages == 0 then
      return
    end
    written = true
    -- Show the first model with drift at the top of the window.
    vim.api.nvim_win_set_cursor(0, { tonumber(env.SCHEMA_LSP_DEMO_TOP) or 1, 0 })
    vim.cmd("normal! zt")
    if env.SCHEMA_LSP_DEMO_PREVIEW == "1" then
      show_preview(function()
        done(messages)
      end)
    else
      done(messages)
    end
  end,
})
