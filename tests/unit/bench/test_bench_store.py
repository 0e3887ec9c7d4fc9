"""`bench store` runs both modes interleaved on real databases and reports the same data in
each (timings are printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatapp.bench import store as bench


def test_both_modes_measure_the_same_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "store.json"
    args = ["--threads", "5", "--messages", "600", "--long", "200", "--rounds", "2"]
    assert bench.main([*args, "--queries", "3", "--appends", "5", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    plain, encrypted = figures["modes"]["plain"], figures["modes"]["encrypted"]
    # two rounds of 5 timed appends, and of 50 whose pages are counted
    assert plain["messages"] == encrypted["messages"] == 600 + 2 * (5 + 50)
    assert len(figures["rounds"]["plain"]) == len(figures["rounds"]["encrypted"]) == 2
    assert set(figures["encrypted_over_plain"]) == {row[0] for row in bench.ROWS}
    assert figures["passphrase_kdf_ms"] > 0
    # an append writes at least its row, the path index, its full-text entry and the thread's
    # row: pages are counted from the write-ahead log, not assumed
    assert plain["pages_per_append"] >= 4 and encrypted["pages_per_append"] >= 4
    assert set(figures["codec_cpu_us_per_page"]) == {"write", "read"}
    printed = capsys.readouterr().out
    assert "encrypted speed / plain" in printed and "passphrase key derivation" in printed
    assert "page codec" in printed
