"""The top-level layout: non-code assets live once, in resources/, and every install reads
them (a wheel and the bundle as chatapp/resources, a checkout or editable install in place)."""

from __future__ import annotations

from pathlib import Path

import pytest

import chatapp
from chatapp.config import paths

ROOT = Path(chatapp.__file__).resolve().parents[1]


def test_the_top_level_folders() -> None:
    for name in (
        "pyproject.toml",
        "README.md",
        "chatapp",
        "resources",
        "models",
        "tests",
        "packaging",
    ):
        assert (ROOT / name).exists(), name
    assert not (ROOT / "chatapp" / "resources").exists()  # one copy, not two
    assert (ROOT / "resources" / "icons" / "chatapp.svg").is_file()
    assert (ROOT / "resources" / "linux" / f"{paths.APP_ID}.desktop").is_file()
    assert (ROOT / "resources" / "linux" / f"{paths.APP_ID}.metainfo.xml").is_file()


def test_the_app_finds_its_icon() -> None:
    icon = paths.resource("icons", "chatapp.svg")
    assert icon.is_file() and icon.read_bytes().lstrip().startswith(b"<")


def test_pyproject_installs_every_package_and_the_resources() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "chatapp").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    resources = {"chatapp.resources"} | {
        f"chatapp.resources.{d.name}" for d in (ROOT / "resources").iterdir() if d.is_dir()
    }
    assert set(setuptools["packages"]) == on_disk | resources
    assert setuptools["package-dir"] == {"chatapp.resources": "resources"}
    for package in resources - {"chatapp.resources"}:
        assert setuptools["package-data"][package] == ["*"]
