"""Build the chatapp bundle with PyInstaller, smoke-test it, and pack it (Linux: a tarball
with an install script for the desktop entry).

    .venv/bin/pip install -e ".[package]"
    .venv/bin/python packaging/build.py            # build, test, pack
    .venv/bin/python packaging/build.py --skip-build   # test and pack the last build

The smoke test starts the frozen app offscreen with a fresh data folder, sends one
message through the built-in model and checks that a complete reply came back from the
model process the frozen app started for it, the exit status is 0, and nothing was
written inside the bundle. It prints the bundle
size and the time to the first window (`--json PATH` writes the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "chatapp.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_ID = "io.github.chatapp.chatapp"


def bundle_dir() -> Path:
    if sys.platform == "darwin":
        return DIST / "chatapp.app" / "Contents" / "MacOS"
    return DIST / "chatapp"


def executable() -> Path:
    return bundle_dir() / ("chatapp.exe" if sys.platform == "win32" else "chatapp")


def build() -> float:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit('PyInstaller is not installed: .venv/bin/pip install -e ".[package]"')
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            str(SPEC),
            "--noconfirm",
            "--clean",
            "--distpath",
            str(DIST),
            "--workpath",
            str(WORK),
            "--log-level",
            "WARN",
        ],
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - started


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def run_app(
    args: list[str], data: Path, timeout: float
) -> tuple[int, list[tuple[float, str]], str]:
    """Start the frozen app; its stdout lines with the seconds since the start."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "CHATAPP_", "VIRTUAL_ENV"))
    }
    env["QT_QPA_PLATFORM"] = env.get("SMOKE_QPA", "offscreen")
    env["HOME"] = str(data / "home")  # nothing may depend on the builder's home
    (data / "home").mkdir(exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(executable()), "--data-dir", str(data / "chatapp"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=data,
    )
    lines: list[tuple[float, str]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.perf_counter() - started, line.rstrip("\n")))
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, lines, proc.stderr.read() if proc.stderr else ""


def smoke(message: str) -> dict[str, float | str]:
    exe = executable()
    if not exe.exists():
        sys.exit(f"no bundle at {exe}: build it first")
    before = snapshot(DIST)
    with tempfile.TemporaryDirectory(prefix="chatapp-smoke-") as tmp:
        data = Path(tmp)
        rc, lines, err = run_app(
            ["--print-startup", "--send", message, "--quit-after", "300000"], data, 360
        )
        shown = next((t for t, line in lines if line == "chatapp: window shown"), None)
        replies = [line for _t, line in lines if line.startswith("reply: ")]
        indexed = [
            line for _t, line in lines if line.startswith("memory: ")
        ]  # the embedding model works
        if rc != 0 or shown is None or not replies or replies[0] == "reply: " or not indexed:
            print("\n".join(line for _t, line in lines), file=sys.stderr)
            print(err[-4000:], file=sys.stderr)
            sys.exit(
                f"smoke test failed: exit status {rc}, window shown: {shown is not None}, "
                f"replies: {replies}, memory: {indexed}"
            )
        # the frozen app started its own model process (multiprocessing.freeze_support in the
        # launcher): "chatapp: model loaded in process CHILD (app process PARENT)"
        child = [line for _t, line in lines if line.startswith("chatapp: model loaded in process ")]
        pids = (
            child[0].removeprefix("chatapp: model loaded in process ").split(" (app process ")
            if child
            else []
        )
        if len(pids) != 2 or pids[0] in ("None", pids[1].rstrip(")")):
            print("\n".join(line for _t, line in lines), file=sys.stderr)
            sys.exit(f"smoke test failed: the model did not run in its own process ({child})")
        total = lines[-1][0] if lines else 0.0
        # a second start, as a person's next start would be (files in the page cache)
        rc2, lines2, err2 = run_app(["--print-startup", "--quit-after", "1500"], data, 120)
        shown2 = next((t for t, line in lines2 if line == "chatapp: window shown"), None)
        if rc2 != 0 or shown2 is None:
            print(err2[-4000:], file=sys.stderr)
            sys.exit(f"second start failed: exit status {rc2}")
        if not (data / "chatapp" / "chatapp.sqlite3").exists():
            sys.exit("the smoke test's thread was not saved in the data folder")
    after = snapshot(DIST)
    changed = sorted(set(after.items()) ^ set(before.items()))
    if changed:
        sys.exit(f"the app wrote inside its bundle: {[name for name, _v in changed][:10]}")
    return {
        "first_window_s": round(shown, 2),
        "second_start_window_s": round(shown2, 2),
        "reply_s": round(total, 2),
        "reply": replies[0].removeprefix("reply: ")[:200],
        "memory": indexed[0].removeprefix("memory: "),
    }


def pack_linux() -> Path:
    """dist/chatapp-<version>-linux-<arch>.tar.gz: the bundle, install.sh, desktop files, icons."""
    sys.path.insert(0, str(ROOT))
    from chatapp import __version__

    name = f"chatapp-{__version__}-linux-{platform.machine()}"
    out = DIST / f"{name}.tar.gz"
    icons = ROOT / "resources" / "icons"
    linux = ROOT / "packaging" / "linux"
    desktop = ROOT / "resources" / "linux"
    with tarfile.open(out, "w:gz", compresslevel=3) as tar:
        tar.add(bundle_dir(), arcname=f"{name}/chatapp")
        tar.add(linux / "install.sh", arcname=f"{name}/install.sh")
        tar.add(desktop / f"{APP_ID}.desktop", arcname=f"{name}/share/{APP_ID}.desktop")
        tar.add(desktop / f"{APP_ID}.metainfo.xml", arcname=f"{name}/share/{APP_ID}.metainfo.xml")
        for icon in sorted(icons.iterdir()):
            tar.add(icon, arcname=f"{name}/share/icons/{icon.name}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="test and pack the last build")
    parser.add_argument("--no-pack", action="store_true", help="do not write the tarball")
    parser.add_argument(
        "--message", default="Say hello in five words.", help="what the smoke test sends"
    )
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args()

    figures: dict[str, float | str] = {}
    if not args.skip_build:
        figures["build_s"] = round(build(), 1)
    figures["bundle_mb"] = round(
        tree_size(DIST / ("chatapp.app" if sys.platform == "darwin" else "chatapp")) / 2**20, 1
    )
    figures.update(smoke(args.message))
    if sys.platform.startswith("linux") and not args.no_pack:
        tarball = pack_linux()
        figures["tarball"] = str(tarball.relative_to(ROOT))
        figures["tarball_mb"] = round(tarball.stat().st_size / 2**20, 1)

    width = max(len(k) for k in figures)
    print(f"\n{'figure'.ljust(width)}  value")
    print(f"{'-' * width}  -----")
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
