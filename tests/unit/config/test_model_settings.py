"""Per-model settings: what is saved, and how a load request is made from them."""

from __future__ import annotations

import json
from pathlib import Path

from chatapp.config.model_settings import ModelSettings, model_key
from chatapp.config.settings import AppSettings
from chatapp.domain import GenerationSettings
from chatapp.engine.templates import NAMED


def test_only_what_differs_from_the_defaults_is_saved(tmp_path: Path) -> None:
    app = AppSettings()
    model = tmp_path / "m.gguf"
    app.set_model(model, ModelSettings(n_ctx=2048, flash_attn=True))
    app.save(tmp_path / "settings.json")
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data["models"] == {str(model.resolve()): {"n_ctx": 2048, "flash_attn": True}}
    again = AppSettings.load(tmp_path / "settings.json")
    assert again.model(model) == ModelSettings(n_ctx=2048, flash_attn=True)
    app.set_model(model, ModelSettings())  # reset to defaults removes the entry
    assert app.models == {}


def test_the_key_is_the_resolved_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    app = AppSettings()
    app.set_model("m.gguf", ModelSettings(n_batch=256))
    assert app.model(tmp_path / "m.gguf").n_batch == 256
    assert model_key("server:http://x/v1") == "server:http://x/v1"


def test_the_model_settings_beat_the_app_settings_and_the_command_line_beats_both() -> None:
    app = AppSettings(gpu="gpu", n_ctx=4096, threads=3)
    app.set_model(
        "/m.gguf", ModelSettings(n_ctx=1024, offload="layers", gpu_layers=7, chat_template="gemma")
    )
    spec = app.spec("/m.gguf")
    assert (spec.n_ctx, spec.gpu, spec.gpu_layers, spec.n_threads) == (1024, "auto", 7, 3)
    assert spec.chat_template == NAMED["gemma"]
    spec = app.spec("/m.gguf", n_ctx=512, gpu="cpu", gpu_layers=None, n_threads=None)
    assert (spec.n_ctx, spec.gpu, spec.gpu_layers, spec.n_threads) == (512, "cpu", None, 3)
    other = app.spec("/other.gguf")
    assert (other.n_ctx, other.gpu, other.gpu_layers, other.chat_template) == (
        4096,
        "gpu",
        None,
        None,
    )
    assert AppSettings().spec("/x.gguf").n_ctx == 0  # automatic: decided from the file at load time


def test_custom_template_text_and_rpc_servers_pass_through() -> None:
    app = AppSettings()
    app.set_model(
        "/m.gguf",
        ModelSettings(
            chat_template="{{ messages }}", rpc_servers=" 10.0.0.2:50052 ", offload="cpu"
        ),
    )
    spec = app.spec("/m.gguf")
    assert spec.chat_template == "{{ messages }}" and spec.rpc_servers == "10.0.0.2:50052"
    assert spec.gpu == "cpu"


def test_model_sampling_defaults_round_trip() -> None:
    value = ModelSettings(sampling=GenerationSettings(temperature=0.2, top_k=10).to_dict())
    again = ModelSettings.from_dict(value.to_dict())
    assert again.generation() == GenerationSettings(temperature=0.2, top_k=10)
    assert ModelSettings().generation() is None


def test_damaged_settings_entries_give_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "models": {
                    "/a.gguf": {"n_ctx": 512, "bogus": 1},
                    "/b.gguf": "nonsense",
                    "/c.gguf": {"offload": "warp"},
                },
                "model_folders": "not a list",
                "last_used": [],
                "endpoints": None,
            }
        )
    )
    app = AppSettings.load(path)
    assert app.model("/a.gguf").n_ctx == 512
    assert app.model("/b.gguf") == ModelSettings()
    assert app.model("/c.gguf").offload == ""
    assert app.model_folders == [] and app.last_used == {} and app.endpoints == []
