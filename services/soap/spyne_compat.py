"""Makes spyne 2.14 import cleanly on Python 3.11, 3.12 and 3.13. Import this module before any ``spyne``.

spyne bundles six 1.14 (``spyne/util/six.py``), whose meta-path importer has only ``find_module``.
Python 3.12 no longer calls ``find_module``, so ``import spyne`` dies in ``spyne/util/oset.py`` with
``No module named 'spyne.util.six.moves'``; on 3.11 the importer works but warns ``ImportWarning``
on every later failed import in the process. spyne imports that six while ``spyne/__init__`` runs,
so the importer cannot be fixed from outside after the fact on 3.12+: this module loads
``spyne/util/six.py`` by itself first (without running ``spyne/__init__``), gives its importer
``find_spec``/``create_module``/``exec_module`` (PEP 451, as six 1.16 has), and only then imports spyne.

spyne also imports the standard library's ``cgi``: deprecated on 3.11 and 3.12 (the one warning
silenced here, only there), removed on 3.13, where the ``legacy-cgi`` distribution provides it
(an environment-marked dependency in pyproject.toml).

``tests/soap/test_spyne_compat.py`` fails when spyne's import order changes under this (the shim no
longer needed, or no longer enough) and when a module of ours imports spyne without it.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

SIX_MODULE = "spyne.util.six"


def _six_path() -> str:
    """Where spyne's bundled six lives, found without importing the ``spyne`` package."""
    spec = importlib.util.find_spec("spyne")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("spyne is not installed")
    return f"{list(spec.submodule_search_locations)[0]}/util/six.py"


def _load_six() -> ModuleType:
    """spyne's six, loaded under its own name before ``spyne``, whose own import of it reuses it."""
    if SIX_MODULE in sys.modules:  # spyne was imported before this module (works on 3.11 only)
        return sys.modules[SIX_MODULE]
    spec = importlib.util.spec_from_file_location(SIX_MODULE, _six_path())
    assert spec is not None and spec.loader is not None
    six = importlib.util.module_from_spec(spec)
    sys.modules[SIX_MODULE] = six
    try:
        spec.loader.exec_module(six)
    except BaseException:
        del sys.modules[SIX_MODULE]
        raise
    return six


def _modernize(importer_type: type) -> None:
    """Give six's importer the PEP 451 methods that Python 3.12 calls instead of ``find_module``."""
    if hasattr(importer_type, "find_spec"):
        return

    def find_spec(self: Any, fullname: str, path: Any, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(fullname, self) if fullname in self.known_modules else None

    def create_module(self: Any, spec: Any) -> Any:
        return self.load_module(spec.name)  # six's own loader: a moved module or a lazy one

    def exec_module(self: Any, module: Any) -> None:
        return None  # create_module returned the finished module

    # spyne's bundled six predates these importer methods (see the module docstring).
    importer_type.find_spec = find_spec  # type: ignore[attr-defined]
    importer_type.create_module = create_module  # type: ignore[attr-defined]
    importer_type.exec_module = exec_module  # type: ignore[attr-defined]


def _install() -> None:
    six = _load_six()
    _modernize(type(six._importer))
    with warnings.catch_warnings():
        if sys.version_info < (3, 13):  # 3.13 has no stdlib cgi; legacy-cgi does not warn
            warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
        import cgi  # noqa: F401  (imported once here, so spyne's own ``import cgi`` warns nowhere)

        import spyne.util

    if getattr(spyne.util, "six", None) is not six:  # the submodule attribute a normal import would set
        spyne.util.six = six


_install()
