"""The OpenAPI document is valid and generated without a warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_is_valid_and_generated_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    run = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "config.settings_test", "PATH": "/usr/bin:/bin"},
    )

    assert run.returncode == 0, run.stderr
    schema = yaml.safe_load(out.read_text())
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert list(answer.get("content", {})) == ["application/json"], (
                        method,
                        path,
                        code,
                    )
            body = operation.get("requestBody", {}).get("content", {})
            expected = (
                ["multipart/form-data", "application/json"]
                if path.endswith("/import/")
                else ["application/json"]
            )
            assert not body or list(body) == expected, (method, path, list(body))
