"""``python -m schema_lsp.server``: the same as ``schema-lsp serve``."""

import sys

from .server import main

sys.exit(main(sys.argv[1:]))
