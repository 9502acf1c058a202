"""Problems found in a migration project, reported as values.

The language server turns these into diagnostics and the CLI prints them, so
one bad file never hides the others and nothing surfaces as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ScriptProblem:
    """One thing wrong with the migration configuration or a revision file.

    ``line`` is 1-based (``None`` when the problem concerns a whole file or
    folder). ``code`` is a short stable identifier such as ``"syntax-error"``
    or ``"missing-parent"`` that callers may switch on.
    """

    code: str
    message: str
    path: Path | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"
