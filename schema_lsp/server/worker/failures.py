"""Turn a failed model import into a file and line the user can act on.

Pure functions over tracebacks (Python's and faulthandler's text), shared by the worker
and tested without one.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterable
from pathlib import Path

from .protocol import Frame, ModelFailure

_FAULT_FRAME = re.compile(r'^\s*File "(?P<path>.+)", line (?P<line>\d+) in (?P<name>.*)$')


def frames_from_traceback(tb: object) -> list[Frame]:
    """Frames of a traceback object, most recent call last."""
    summary = traceback.extract_tb(tb)  # type: ignore[arg-type]
    return [Frame(f.filename, f.lineno or 0, f.name) for f in summary]


def frames_from_faulthandler(text: str) -> list[Frame]:
    """Frames of the first thread in a faulthandler dump, most recent call last."""
    frames: list[Frame] = []
    for line in text.splitlines():
        if frames and not line.strip():
            break
        match = _FAULT_FRAME.match(line)
        if match:
            frames.append(Frame(match["path"], int(match["line"]), match["name"].strip()))
        elif frames and line.startswith(("Thread ", "Current thread ")):
            break
    frames.reverse()  # faulthandler prints most recent call first
    return frames


def _inside(path: str, root: Path) -> bool:
    if not path or path.startswith("<"):
        return False
    try:
        resolved = Path(os.path.realpath(path))
        resolved.relative_to(root)
    except (OSError, ValueError):
        return False
    return ".venv" not in resolved.relative_to(root).parts and "site-packages" not in resolved.parts


def deepest_workspace_frame(frames: Iterable[Frame], root: str | Path) -> Frame | None:
    """The most recent frame whose file lies inside the workspace (not its virtualenv)."""
    root_path = Path(os.path.realpath(root))
    found = None
    for frame in frames:
        if _inside(frame.path, root_path):
            found = frame
    return found


def locate_failure(failure: ModelFailure, root: str | Path) -> ModelFailure:
    """Fill ``path``/``line`` from the frames when the failure has no location of its own.

    A SyntaxError carries its own filename and line; anything else is placed at the deepest
    frame inside the workspace, so a failure in a library points at the user's call to it.
    """
    if failure.path and failure.line and _inside(failure.path, Path(os.path.realpath(root))):
        return failure
    frame = deepest_workspace_frame(failure.frames, root)
    if frame is None:
        return failure
    return ModelFailure(
        kind=failure.kind,
        message=failure.message,
        path=frame.path,
        line=frame.line,
        column=None,
        frames=failure.frames,
    )


def failure_from_exception(exc: BaseException) -> ModelFailure:
    """A :class:`ModelFailure` for an exception raised while importing or comparing."""
    frames = frames_from_traceback(exc.__traceback__)
    if isinstance(exc, SyntaxError):
        detail = exc.msg or "invalid syntax"
        return ModelFailure(
            kind="syntax",
            message=f"SyntaxError: {detail}",
            path=exc.filename,
            line=exc.lineno,
            column=exc.offset,
            frames=frames,
        )
    if isinstance(exc, SystemExit):
        message = f"the models called sys.exit({exc.code!r}) while being imported"
        return ModelFailure(kind="exit", message=message, frames=frames)
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return ModelFailure(kind="exception", message=message, frames=frames)
