"""settings.json as a person (or another program) may leave it (issue 22, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

from chatapp.config.settings import AppSettings


def test_a_file_that_is_not_json_is_kept_aside_and_defaults_are_used(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"gpu": "cpu", "n_ctx": 4096,')  # cut off
    settings, notices = AppSettings.load_with_notices(path)
    assert settings == AppSettings()
    [aside] = tmp_path.glob("settings.json.broken-*")
    assert aside.read_text() == '{"gpu": "cpu", "n_ctx": 4096,'
    assert not path.exists()
    [notice] = notices
    assert "not valid JSON" in notice and aside.name in notice and "\n" not in notice
    settings.save(path)  # what the app does at exit: the broken file is not what is replaced
    assert aside.read_text() == '{"gpu": "cpu", "n_ctx": 4096,'
    assert json.loads(path.read_text())["gpu"] == "auto"


def test_not_utf8_and_not_an_object_are_kept_aside_too(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"theme": "\xff"}')
    assert "not UTF-8" in AppSettings.load_with_notices(path)[1][0]
    path.write_text("[1, 2]")
    assert "does not hold settings" in AppSettings.load_with_notices(path)[1][0]
    assert len(list(tmp_path.glob("settings.json.broken-*"))) == 2  # two names, nothing overwritten


def test_wrong_types_fall_back_key_by_key_with_one_notice(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "gpu": "banana",
                "n_ctx": "big",
                "threads": -3,
                "gpu_layers": True,
                "font_size": 12,
                "theme": "dark",
                "default_model": 5,
                "model_folders": ["/ok", 7],
                "last_used": {"/m": "x", "/n": 1.5, "/o": 1e20},
                "models": {
                    "/m.gguf": {
                        "n_ctx": "big",
                        "n_batch": 256,
                        "flash_attn": "yes",
                        "future_key": 1,
                    }
                },
            }
        )
    )
    settings, [notice] = AppSettings.load_with_notices(path)
    assert (settings.gpu, settings.n_ctx, settings.threads, settings.gpu_layers) == (
        "auto",
        0,
        None,
        None,
    )
    assert (settings.font_size, settings.theme, settings.default_model) == (12, "dark", None)
    assert settings.model_folders == ["/ok"] and settings.last_used == {"/n": 1.5}
    assert settings.models == {"/m.gguf": {"n_batch": 256, "future_key": 1}}
    for shown in ('gpu ("banana")', 'n_ctx ("big")', "threads (-3)", 'm.gguf: flash_attn ("yes")'):
        assert shown in notice
    assert list(tmp_path.glob("settings.json.broken-*"))  # the file as it was is kept
    # the load request a model gets is made of numbers, not text
    spec = settings.spec("/m.gguf")
    assert spec.n_ctx == 0 and spec.n_batch == 256 and spec.flash_attn is False


def test_good_settings_give_no_notice_and_keep_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    AppSettings(gpu="cpu", n_ctx=2048, theme="light", model_folders=["/x"]).save(path)
    settings, notices = AppSettings.load_with_notices(path)
    assert notices == [] and settings.gpu == "cpu" and settings.n_ctx == 2048
    assert not list(tmp_path.glob("settings.json.*"))


def test_unusable_values_are_copied_once_and_the_file_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = json.dumps({"gpu": "banana", "theme": "dark", "n_ctx": 2048})
    path.write_text(original)
    settings, [notice] = AppSettings.load_with_notices(path)
    [aside] = tmp_path.glob("settings.json.broken-*")
    assert aside.read_text() == original and aside.name in notice and settings.gpu == "auto"
    assert json.loads(path.read_text())["gpu"] == "auto"  # cleaned, atomically written
    for _start in range(3):  # later starts: no notice, no new copy, the good values kept
        again, notices = AppSettings.load_with_notices(path)
        assert notices == [] and (again.theme, again.n_ctx) == ("dark", 2048)
    assert list(tmp_path.glob("settings.json.*")) == [aside]
    assert not list(tmp_path.glob(".*tmp*"))


def test_one_font_range_for_the_file_the_window_and_the_dialog(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.config.settings import FONT_SIZES
    from chatapp.ui.main_window import font_points
    from chatapp.ui.settings_dialog import FontSizeBox

    low, high = FONT_SIZES
    path = tmp_path / "settings.json"
    for size, kept in (
        (0, 0),
        (low, low),
        (high, high),
        (low - 1, 0),
        (1, 0),
        (high + 1, 0),
        (200, 0),
    ):
        path.write_text(json.dumps({"font_size": size}))
        assert AppSettings.load_with_notices(path)[0].font_size == kept, size
    assert [font_points(s) for s in (0, low, high)] == [0, low, high]
    assert font_points(low - 3) == low and font_points(high + 30) == high
    box = FontSizeBox(0, 11)
    assert box.points() == 0 and box.maximum() == high
    box.setValue(low)
    assert box.points() == low
    box.stepBy(-1)
    assert box.points() == 0  # below the smallest readable size is "system"
