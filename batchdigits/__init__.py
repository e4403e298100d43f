"""batchdigits: read folders of scanned handwritten digits into a reviewable CSV.

The Python API mirrors the command line: ``batchdigits.scan(folder)`` runs the
same pipeline as ``batchdigits scan`` and returns a pandas DataFrame.
Heavy modules (TensorFlow, pandas) load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "1.1.0"

if TYPE_CHECKING:
    from .api import scan as scan
    from .options import ScanOptions as ScanOptions


def __getattr__(name: str) -> Any:
    if name == "scan":
        from .api import scan

        return scan
    if name == "ScanOptions":
        from .options import ScanOptions

        return ScanOptions
    raise AttributeError(f"module 'batchdigits' has no attribute {name!r}")


__all__ = ["ScanOptions", "__version__", "scan"]
