"""``python -m schema_lsp``: the same as the ``schema-lsp`` command."""

import sys

from .cli import main

sys.exit(main())
