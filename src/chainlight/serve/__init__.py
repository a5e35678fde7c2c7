"""The service: HTTP API (decisions, profiles, chains, search, audit) and the analysts' web page.

Not a batch stage (no ``run``): ``chainlight serve`` starts it over a workspace. It reads the tables
the stages wrote (``enterprises``, ``aliases``, ``products``, ``chains``, ``segments``, ``segment_edges``,
``mounts``, ``mount_evidence``, ``mounts_registry_only``, ``supply_edges``, ``graph_features``, ``facts``,
``invoices``, and the expert and risk tables when they exist) into memory at start, and writes nothing
but API keys (``keys``) and, through the risk engine, audit entries. The HTTP parts need the ``web``
extra; ``keys`` does not.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from chainlight.serve.app import create_app
        return create_app
    raise AttributeError(name)
