"""Every subpackage ships: pyproject.toml lists packages by hand (the bundled rubrics and
prompts are mapped from top-level folders), so a new folder left out would vanish from the
wheel while the editable install used by the other tests still finds it."""

from __future__ import annotations

import tomllib

from tests.helpers import REPO


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "evaluator").rglob("__init__.py")
    }
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
