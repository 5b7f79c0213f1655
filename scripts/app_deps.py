"""`make deps`: which app imports which (application code only, tests left out), and the
cycles between apps. The layering itself is enforced by import-linter in `make lint`."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import grimp

APPS = [
    "config",
    "core",
    "gateway",
    "accounts",
    "clients",
    "stoplist",
    "mailings",
    "delivery",
    "reports",
]


def app_of(module: str) -> str:
    return module.split(".", 1)[0]


def is_test(module: str) -> bool:
    return ".tests" in module or module.endswith(".tests")


def main() -> int:
    sys.path.insert(0, str(Path.cwd()))
    present = [app for app in APPS if (Path(app) / "__init__.py").exists()]
    graph = grimp.build_graph(*present)
    deps: dict[str, set[str]] = {app: set() for app in present}
    for module in graph.modules:
        if is_test(module):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if app_of(imported) != app_of(module) and not is_test(imported):
                deps[app_of(module)].add(app_of(imported))
    for app in present:
        print(f"{app:>9} -> {', '.join(sorted(deps[app])) or '(nothing)'}")
    cycles = [
        (a, b) for a, b in itertools.combinations(present, 2) if b in deps[a] and a in deps[b]
    ]
    print(f"app-level cycles: {len(cycles)}", *(f"{a} <-> {b}" for a, b in cycles), sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
