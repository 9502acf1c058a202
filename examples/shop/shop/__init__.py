"""A tiny shop application used to demonstrate schema-lsp's drift detection."""
