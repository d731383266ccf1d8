"""constraints.txt pins what bin/setup installs: it must pin every dependency pyproject.toml
names, at a version its range allows, and be what this checkout's tests run on."""

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pinned() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): pinned for name, pinned in pins}


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    return [Requirement(line) for line in [*project["dependencies"], *sum(extras, [])]]


def test_every_dependency_is_pinned_within_its_range():
    pinned = _pinned()
    unpinned = [str(r) for r in _required() if canonicalize_name(r.name) not in pinned]
    outside = [
        f"{r.name}=={pinned[canonicalize_name(r.name)]} is not {r.specifier}"
        for r in _required()
        if canonicalize_name(r.name) in pinned
        and not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]
    assert (unpinned, outside) == ([], []), "run bin/lock after changing pyproject.toml"


def test_the_tests_run_on_the_pinned_versions():
    differ = {
        name: (pinned, version(name))
        for name, pinned in _pinned().items()
        if version(name) != pinned
    }
    assert differ == {}
