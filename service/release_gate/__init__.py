"""release-gate: a policy-as-code release gate for governed disclosure packets."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
