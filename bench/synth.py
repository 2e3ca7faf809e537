"""Generate synthetic flowdev projects of N assets (and their decorator-free floor twins).

Each asset depends on one or two earlier assets through its parameters, as real
projects do; modules hold at most 500 assets. ``floor=True`` writes the same modules
with the decorators and the `Definitions` removed: what importing the user's code
costs without flowdev.
"""

from __future__ import annotations

import compileall
import random
import shutil
from pathlib import Path

PER_MODULE = 500
GROUPS = ("ingest", "transform", "report")


def generate(root: Path, count: int, *, floor: bool = False, seed: int = 1) -> Path:
    """Write a project of ``count`` assets under ``root`` and return its directory."""
    name = f"synth{'_floor' if floor else ''}_{count}"
    project = root / name
    if project.exists():
        shutil.rmtree(project)
    package = project / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    rng = random.Random(seed)
    modules = []
    for start in range(0, count, PER_MODULE):
        module = f"assets_{start // PER_MODULE}"
        modules.append(module)
        lines = [] if floor else ["from flowdev import asset", ""]
        for i in range(start, min(start + PER_MODULE, count)):
            parents = sorted({rng.randrange(i) for _ in range(rng.choice((1, 2)))}) if i else []
            params = ", ".join(f"a{p}" for p in parents)
            body = " + ".join(f"a{p}" for p in parents) or str(i)
            if not floor:
                group = GROUPS[i * len(GROUPS) // count]
                lines.append(f'@asset(group_name="{group}")')
            lines += [f"def a{i}({params}):", f'    """Asset {i}."""', f"    return {body}", ""]
        (package / f"{module}.py").write_text("\n".join(lines))
    imports = f"from {name} import " + ", ".join(modules)
    if floor:
        definitions = imports + "\n"
    else:
        definitions = (
            "from flowdev import Definitions, load_assets_from_modules\n"
            f"{imports}\n\n"
            f"defs = Definitions(assets=load_assets_from_modules([{', '.join(modules)}]))\n"
        )
    (package / "definitions.py").write_text(definitions)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0"\n\n'
        f'[tool.flowdev]\nmodule = "{name}.definitions"\n'
    )
    # Both twins are timed with their bytecode cached, as a project is on its second load.
    compileall.compile_dir(project, quiet=1)
    return project
