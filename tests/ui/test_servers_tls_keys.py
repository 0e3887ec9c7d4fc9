"""Servers over HTTPS (certificate errors are shown, a trusted CA works), the model list for
the endpoint dialog, and API keys kept in the system keyring (never in the settings file)."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatapp.engine.backend import ModelSpec
from chatapp.engine.remote import Endpoint, RemoteBackend
from chatapp.errors import ModelLoadError

MODELS = ["llama-3-8b", "qwen2.5-7b"]


class _Models(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def do_GET(self) -> None:
        body = json.dumps(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatapp test server")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _serve(httpd: http.server.HTTPServer) -> threading.Thread:
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    _serve(httpd)
    yield f"https://127.0.0.1:{httpd.server_address[1]}/v1", cert
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def models_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    _serve(httpd)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _spec(url: str) -> ModelSpec:
    return ModelSpec(url, endpoint=Endpoint("tls lab", url, timeout=10))


def test_an_untrusted_certificate_is_shown_not_ignored(https_server: tuple[str, Path]) -> None:
    url, _cert = https_server
    with pytest.raises(
        ModelLoadError,
        match=r"The certificate of tls lab \(https://127\.0\.0\.1:\d+/v1\) is not trusted",
    ):
        RemoteBackend().load(_spec(url))


def test_a_certificate_trusted_by_the_system_settings_works(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what a company CA bundle looks like to OpenSSL
    assert RemoteBackend().models(Endpoint("tls lab", url, timeout=10)) == MODELS
    info = RemoteBackend().load(_spec(url))
    assert info.name == "llama-3-8b @ tls lab"


def test_the_dialog_lists_the_servers_models_without_blocking(qtbot, models_server: str) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.endpoint_dialog import EndpointDialog

    dialog = EndpointDialog([])
    qtbot.addWidget(dialog)
    dialog.url.setText(models_server)
    with qtbot.waitSignal(dialog.models_listed, timeout=10000) as listed:
        dialog.list_models()
    assert listed.args == [MODELS, ""]
    assert [dialog.model.itemText(i) for i in range(dialog.model.count())] == MODELS
    dialog.model.setCurrentIndex(1)
    assert dialog.endpoint().model == "qwen2.5-7b"
    assert "2 model(s)" in dialog.status.text()
    dialog.url.setText("http://127.0.0.1:9/v1")
    with qtbot.waitSignal(dialog.models_listed, timeout=10000) as listed:
        dialog.list_models()
    assert "Nothing answers" in listed.args[1] and "Nothing answers" in dialog.status.text()
    assert dialog.list_button.isEnabled()


class _MemoryKeyring:
    """An in-memory keyring backend: stands in for the desktop's Secret Service here."""

    def __init__(self) -> None:
        import keyring.backend

        class Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]
            store: typing.ClassVar[dict[tuple[str, str], str]] = {}

            def get_password(self, service: str, username: str) -> str | None:
                return self.store.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.store[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self.store.pop((service, username), None)

        self.backend = Backend()


@pytest.fixture
def memory_keyring() -> Iterator[dict]:
    import keyring

    previous = keyring.get_keyring()
    fake = _MemoryKeyring().backend
    keyring.set_keyring(fake)
    yield fake.store
    keyring.set_keyring(previous)


def _connect_with_key(qtbot, window, engine, url: str, settings_path: Path):  # type: ignore[no-untyped-def]
    """Model > Connect to a server…, endpoint "lab" with a key, remembered; the loaded ModelInfo."""
    window.settings_path = settings_path
    window.connect_server()
    dialog = window.model_dialogs.endpoint_dialog
    dialog.name.setText("lab")
    dialog.url.setText(url)
    dialog.key.setText("sk-secret-value")
    with qtbot.waitSignal(engine.loaded, timeout=10000) as loaded:
        dialog.accept()
    return loaded.args[0]


def test_the_api_key_goes_to_the_keyring_and_comes_back(
    qtbot, make_window, engine, tmp_path: Path, memory_keyring: dict, models_server: str
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.endpoint_dialog import EndpointDialog

    window = make_window()
    info = _connect_with_key(qtbot, window, engine, models_server, tmp_path / "settings.json")
    assert info.name == "llama-3-8b @ lab"
    assert memory_keyring == {("chatapp", "lab"): "sk-secret-value"}
    saved = (tmp_path / "settings.json").read_text()
    assert "sk-secret-value" not in saved and json.loads(saved)["endpoints"][0]["name"] == "lab"
    again = EndpointDialog(window.app_settings.endpoints)  # next time: picked from the saved list
    qtbot.addWidget(again)
    again.choice.setCurrentIndex(1)
    assert again.key.text() == "sk-secret-value" and again.url.text() == models_server


def test_without_a_keyring_the_user_is_told_the_key_is_not_kept(
    qtbot, make_window, engine, tmp_path: Path, models_server: str
) -> None:  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        window = make_window()
        _connect_with_key(qtbot, window, engine, models_server, tmp_path / "settings.json")
        assert "kept for this session only" in window.statusBar().currentMessage()
        assert "sk-secret-value" not in (tmp_path / "settings.json").read_text()
    finally:
        keyring.set_keyring(previous)
