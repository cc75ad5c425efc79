"""Knowledge-graph core: configuration, schema, graph stores, ingest and extraction.

``from kg import Platform`` gives the Python API (``kg/platform.py``); it is imported on
first use so that ``import kg`` stays cheap for the CLI and for worker processes.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Platform"]


def __getattr__(name: str) -> Any:
    if name == "Platform":
        from kg.platform import Platform

        return Platform
    raise AttributeError(f"module 'kg' has no attribute {name!r}")
