"""Print or check the checked-in SDL contract: ``python -m services.graphql.sdl [--check]``.

Without arguments it rewrites ``contracts/schema.graphql`` from the schema the app serves;
with ``--check`` it exits 1 when the file has drifted from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.graphql.schema import sdl

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "schema.graphql"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = sdl()
    if "--check" in args:
        if not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != current:
            print(f"{CONTRACT} is stale: run python -m services.graphql.sdl", file=sys.stderr)
            return 1
        print(f"{CONTRACT} is up to date")
        return 0
    CONTRACT.write_text(current, encoding="utf-8")
    print(f"wrote {CONTRACT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
