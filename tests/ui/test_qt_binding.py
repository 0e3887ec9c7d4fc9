"""PySide6 6.12.0 dropped a reference to None or True on every signal and event loop pass,
which aborted the interpreter after a long chat. Guard against such a binding."""

import sys

from PySide6.QtCore import QCoreApplication, QObject, Signal


class _Emitter(QObject):
    sig = Signal(object)


def test_signals_and_event_processing_keep_references(qapp) -> None:  # type: ignore[no-untyped-def]
    emitter = _Emitter()
    received: list[object] = []
    emitter.sig.connect(received.append)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(500):
        emitter.sig.emit(i)
        QCoreApplication.processEvents()
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert len(received) == 500
    assert after[0] - before[0] > -50, "the Qt binding loses references to None"
    assert after[1] - before[1] > -50, "the Qt binding loses references to True"
