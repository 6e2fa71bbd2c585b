"""Lazy public names for a package ``__init__``: a module-level ``__getattr__`` (PEP 562) that imports a
name's module on first use, so importing the package does no work (no torch, pandas, wfdb).

Used by ``data_access``, ``protoecg`` and ``analysis`` (it sits on the bottom floor so all three may)::

    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], names: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) resolving each of ``names`` (name -> module) on first access and
    caching it in ``namespace``; other names raise ``AttributeError`` as usual."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
