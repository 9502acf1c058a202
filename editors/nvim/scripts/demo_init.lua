-- Neovim configuration for the screenshot demo (scripts/screenshot.py): the plugin on
-- 'runtimepath', diagnostics as virtual text and signs, the drift count in the statusline.
-- When schema-lsp's diagnostics arrive it writes them to $SCHEMA_LSP_DEMO_MARKER.
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

local written = false
vim.api.nvim_create_autocmd("DiagnosticChanged", {
  callback = function()
    if written then
      return
    end
    local messages = {}
    for _, d in ipairs(vim.diagnostic.get(0)) do
      if d.source == "schema-lsp" then
        table.insert(messages, { line = d.lnum + 1, message = d.message })
      end
    end
    if #messages == 0 then
      return
    end
    written = true
    -- Show the first model with drift at the top of the window.
    vim.defer_fn(function()
      local top = tonumber(env.SCHEMA_LSP_DEMO_TOP) or 1
      vim.api.nvim_win_set_cursor(0, { top, 0 })
      vim.cmd("normal! zt")
      local function done()
        vim.cmd("redraw!")
        local fd = io.open(env.SCHEMA_LSP_DEMO_MARKER, "w")
        if fd then
          fd:write(vim.fn.json_encode(messages))
          fd:close()
        end
      end
      if env.SCHEMA_LSP_DEMO_PREVIEW ~= "1" then
        done()
        return
      end
      -- Also show :SchemaLspPreview's split; the marker is written once it has the revision.
      vim.cmd("SchemaLspPreview")
      local timer = vim.loop.new_timer()
      timer:start(100, 100, vim.schedule_wrap(function()
        local buf = vim.fn.bufnr("schema-lsp://next-revision.py")
        if buf ~= -1 and vim.fn.bufwinid(buf) ~= -1 then
          local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
          if text:find("def upgrade", 1, true) then
            timer:stop()
            local win = vim.fn.bufwinid(buf)
            local target = 1
            for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
              if l:find("def upgrade", 1, true) then
                target = i
                break
              end
            end
            vim.api.nvim_win_set_cursor(win, { target, 0 })
            vim.api.nvim_win_call(win, function()
              vim.cmd("normal! zt")
            end)
            done()
          end
        end
      end))
    end, 1500)
  end,
})
