"""`make run`: prepare the embedded defaults, then run every process of the service.

1. Create DATA_DIR and, unless SECRET_KEY is set, a secret key kept there (so tokens
   survive restarts).
2. Migrate, collect static files, create the admin user if missing.
3. Start gunicorn, a Celery worker, Celery beat and, while GATEWAY_URL is unset, the
   bundled gateway emulator, all in this process group.
4. Ctrl-C or SIGTERM stops them all; if one exits, the others are stopped too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import processes  # noqa: E402 -- after the path is set

BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 15


def prepare_environment() -> dict[str, str]:
    env = dict(os.environ)
    data_dir = Path(env.setdefault("DATA_DIR", str(ROOT / ".data"))).resolve()
    env["DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not env.get("SECRET_KEY"):
        key_file = data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    env.setdefault("LOG_FORMAT", "text")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    metrics_dir = data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if not env.get("GATEWAY_URL"):
        env["GATEWAY_PORT"] = env.get("GATEWAY_PORT", "8001")
        env["GATEWAY_URL"] = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        env["EMULATOR"] = "1"
    env.setdefault("GATEWAY_TOKEN", "")
    if env.get("EMULATOR") == "1" and not env["GATEWAY_TOKEN"]:
        env["GATEWAY_TOKEN"] = secrets.token_urlsafe(24)  # a fresh shared secret per run
    return env


def configuration_error(env: dict[str, str]) -> str | None:
    """The settings' own complaint (ImproperlyConfigured), or the processes', in one line,
    or None."""
    try:
        commands(env)
    except ValueError as exc:  # a setting only `make run` reads (WORKER_NICE)
        return str(exc)
    done = subprocess.run(
        [str(BIN / "python"), "-c", "import config.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines() or ["(no message)"]
    return lines[-1].removeprefix("django.core.exceptions.ImproperlyConfigured: ")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def commands(env: dict[str, str]) -> dict[str, list[str]]:
    procs = {
        # Only this machine unless HOST says otherwise (0.0.0.0 to serve the network).
        "web": processes.web(env, host=env.get("HOST", "127.0.0.1"), port=env.get("PORT", "8000")),
        "worker": processes.worker(env),
        "beat": processes.beat(env, schedule=Path(env["DATA_DIR"]) / "celerybeat-schedule"),
    }
    if env.get("EMULATOR") == "1":
        procs["gateway"] = processes.gateway(env["GATEWAY_PORT"])
    return procs


def main() -> int:
    env = prepare_environment()
    problem = configuration_error(env)
    if problem:
        print(f"make run: cannot start: {problem}", file=sys.stderr)
        return 2
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "collectstatic", "--no-input", "-v", "0")
    try:
        manage(env, "ensure_admin")
    except subprocess.CalledProcessError:
        sys.exit(1)  # it said why in one line (a weak ADMIN_PASSWORD)

    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands(env).items():
        children[name] = subprocess.Popen(argv, cwd=ROOT, env=env)
    port = env.get("PORT", "8000")
    print(
        f"\nServing on http://127.0.0.1:{port}/api/ (docs: http://127.0.0.1:{port}/docs/, "
        f"gateway: {env['GATEWAY_URL']}). Ctrl-C stops everything.\n",
        flush=True,
    )

    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest.", flush=True)
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.2)

    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
