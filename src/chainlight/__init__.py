"""chainlight: an industry-chain finance engine (see DESIGN.md)."""

from __future__ import annotations

__version__ = "0.1.0"
