"""The spyne shim: still needed, still enough, and imported before spyne everywhere spyne is imported.

Each check runs in a fresh interpreter (the same one running the tests, warnings as errors), because
in this process spyne was imported long ago and import order cannot be observed any more.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIM = "services.soap.spyne_compat"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_spyne_without_the_shim_still_fails_as_the_shim_expects() -> None:
    """If this fails, spyne changed how it imports its bundled six: re-check (or delete) the shim."""
    result = run_python("import spyne")
    assert result.returncode != 0, "spyne now imports cleanly without the shim: it may no longer be needed"
    if sys.version_info >= (3, 12):  # six's importer has no find_spec, and 3.12 stopped calling find_module
        assert "No module named 'spyne.util.six.moves'" in result.stderr, result.stderr
    else:  # 3.11 still calls find_module, but warns on the fallback (an error here)
        assert "_SixMetaPathImporter.find_spec() not found" in result.stderr, result.stderr


def test_with_the_shim_spyne_imports_builds_serves_wsdl_and_answers_a_call() -> None:
    result = run_python(
        """
        import io, sys
        from wsgiref.util import setup_testing_defaults

        import services.soap.spyne_compat
        from spyne import Application, ServiceBase, Unicode, rpc
        from spyne.protocol.soap import Soap11
        from spyne.server.wsgi import WsgiApplication
        import spyne.util.six
        from spyne.util.six.moves import collections_abc

        # the six that spyne uses is the one the shim loaded, and its importer is registered once
        assert sys.modules["spyne.util.six"] is spyne.util.six
        assert [type(i).__name__ for i in sys.meta_path].count("_SixMetaPathImporter") == 1
        assert hasattr(spyne.util.six._importer, "find_spec")

        class Echo(ServiceBase):
            @rpc(Unicode, _returns=Unicode)
            def echo(ctx, text):
                return text.upper()

        app = WsgiApplication(Application([Echo], "urn:echo", in_protocol=Soap11(validator="lxml"),
                                          out_protocol=Soap11()))
        statuses = []
        def call(**environ):
            env = {}
            setup_testing_defaults(env)
            env.update(environ)
            return b"".join(app(env, lambda status, headers: statuses.append(status)))

        wsdl = call(QUERY_STRING="wsdl")
        request = (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:echo">'
                   b'<e:Body><x:echo><x:text>hi</x:text></x:echo></e:Body></e:Envelope>')
        answer = call(REQUEST_METHOD="POST", CONTENT_TYPE="text/xml", CONTENT_LENGTH=str(len(request)),
                      **{"wsgi.input": io.BytesIO(request)})
        assert statuses == ["200 OK", "200 OK"], statuses
        assert b"<wsdl:definitions" in wsdl and b'name="echo"' in wsdl
        assert b"<tns:echoResult>HI</tns:echoResult>" in answer, answer

        try:  # a failed import elsewhere in the process passes six's importer without a warning
            import no_such_module_here
        except ModuleNotFoundError:
            pass
        print("ok")
        """
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_the_shim_still_works_when_spyne_came_first_where_that_is_possible() -> None:
    """On 3.11 a stray ``import spyne`` may run first; importing the shim afterwards still cleans up."""
    if sys.version_info >= (3, 12):  # spyne cannot be imported first at all there (the test above)
        code = f"import {SHIM}; import spyne; print('ok')"
    else:
        code = f"""
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import spyne
        import {SHIM}
        try:
            import no_such_module_here
        except ModuleNotFoundError:
            print("ok")
        """
    result = run_python(code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, at any depth, in source order."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return sorted(found)


def test_every_module_of_ours_that_imports_spyne_imports_the_shim_first() -> None:
    importers = []
    for path in sorted(
        p for folder in ("services", "gateway", "bench", "tests") for p in (ROOT / folder).rglob("*.py")
    ):
        if path.name == "spyne_compat.py":
            continue
        imports = _imports(ast.parse(path.read_text(encoding="utf-8")))
        spyne_lines = [line for line, name in imports if name == "spyne" or name.startswith("spyne.")]
        if not spyne_lines:
            continue
        importers.append(path.relative_to(ROOT).as_posix())
        shim_lines = [line for line, name in imports if name == SHIM]
        assert shim_lines and min(shim_lines) < min(spyne_lines), f"{path}: import {SHIM} before spyne"
    assert "services/soap/service.py" in importers  # the check looked where spyne is used
