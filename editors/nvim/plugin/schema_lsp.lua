-- schema-lsp: nothing starts until require("schema_lsp").setup() is called.
if vim.g.loaded_schema_lsp then
  return
end
vim.g.loaded_schema_lsp = true
