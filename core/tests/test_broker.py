"""The embedded broker writes each message whole, under a name consumers pick up only then."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kombu import Connection

from config.broker import Transport


def connection(tmp_path: Path) -> Any:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(tmp_path / "processed"),
        "control_folder": str(tmp_path / "control"),
    }
    return Connection("filesystem://", transport=Transport, transport_options=options), folder


def test_a_message_is_renamed_into_place_whole(tmp_path: Path) -> None:
    conn, folder = connection(tmp_path)
    with conn:
        channel = conn.default_channel
        channel._put("jobs", {"body": "x" * 10_000})

    files = list(folder.iterdir())
    assert [f.name.endswith(".jobs.msg") for f in files] == [True]
    assert json.loads(files[0].read_text())["body"] == "x" * 10_000


def test_a_file_still_being_written_is_not_consumed(tmp_path: Path) -> None:
    conn, folder = connection(tmp_path)
    (folder / "1_partial.jobs.msg.tmp").write_bytes(b'{"bo')
    with conn:
        channel = conn.default_channel
        channel._put("jobs", {"body": "whole"})
        assert channel._get("jobs") == {"body": "whole"}
        try:
            channel._get("jobs")
        except Exception as exc:  # kombu's Empty
            assert type(exc).__name__ == "Empty"
    assert (folder / "1_partial.jobs.msg.tmp").exists()
