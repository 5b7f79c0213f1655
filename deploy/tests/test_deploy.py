"""The deployment files agree with the code: same dependencies, only settings it reads."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"

# Variables read outside config/settings.py: by the process runners, gunicorn and prometheus.
READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE", "PORT", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}
# Variables only the containers of PostgreSQL itself read (docker-compose's postgres service).
POSTGRES_IMAGE = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}


def settings_read() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', source)) | READ_ELSEWHERE


PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")


def lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            pins[match[1].lower().replace("_", "-").replace(".", "-")] = match[2]
    return pins


def lock_entries(path: Path) -> list[str]:
    """Each pinned requirement with its continuation lines (hashes, comments)."""
    return re.split(r"\n(?=[A-Za-z0-9])", path.read_text())


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_the_image_installs_the_lock_that_make_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    dev_lock = (ROOT / "requirements-dev.lock").read_text()

    assert "COPY requirements.lock /tmp/requirements.lock" in dockerfile
    assert "pip install --require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "--constraint=requirements.lock" in dev_lock  # how `make lock` made it


def test_every_pin_of_both_locks_carries_its_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = [e for e in lock_entries(ROOT / lock) if PIN.match(e)]
        assert len(entries) == len(lock_pins(ROOT / lock)) > 10
        for entry in entries:
            assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]}"


def test_the_runtime_lock_pins_every_dependency_of_the_project_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock_pins(ROOT / "requirements.lock")

    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {spec}"


def test_the_dev_lock_holds_the_runtime_lock_unchanged_plus_the_tools() -> None:
    runtime = lock_pins(ROOT / "requirements.lock")
    dev = lock_pins(ROOT / "requirements-dev.lock")

    assert {name: dev.get(name) for name in runtime} == runtime
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]:
        name = Requirement(spec).name.lower().replace("_", "-")
        assert name in dev or name in runtime, name


def test_kubernetes_sets_only_settings_the_code_reads_and_every_required_one() -> None:
    set_by_k8s: set[str] = set()
    for doc in k8s_documents():
        if doc["kind"] in ("ConfigMap", "Secret"):
            set_by_k8s |= set(doc.get("data", {})) | set(doc.get("stringData", {}))

    assert set_by_k8s - settings_read() == set()
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "GATEWAY_URL",
        "GATEWAY_TOKEN",
    } <= set_by_k8s


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_and_env_example_set_only_settings_the_code_reads() -> None:
    compose = _compose()
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    app_env = set(compose["x-app"]["environment"])

    assert app_env - settings_read() == set()
    assert example - settings_read() - POSTGRES_IMAGE == set()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= app_env


def test_every_workload_reads_the_config_and_the_secret() -> None:
    for doc in k8s_documents():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"mailing-config", "mailing-secrets"}, doc["metadata"]["name"]
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_web_probes_use_healthz_and_readyz_and_beat_is_a_single_recreated_replica() -> None:
    by_name = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Deployment"}
    web = by_name["mailing-web"]["spec"]["template"]["spec"]["containers"][0]
    beat = by_name["mailing-beat"]["spec"]

    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert beat["replicas"] == 1
    assert beat["strategy"]["type"] == "Recreate"


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(kustomization["resources"]) == files
    assert {d["metadata"].get("namespace", "mailing") for d in k8s_documents()} == {"mailing"}


def test_the_secret_template_holds_no_real_secret() -> None:
    secret = next(d for d in k8s_documents() if d["kind"] == "Secret")
    for name, value in secret["stringData"].items():
        if name in ("SECRET_KEY", "GATEWAY_TOKEN", "ADMIN_PASSWORD"):
            assert "replace" in value, name
        elif re.search("(SECRET|PASSWORD|TOKEN)$", name):
            assert value == "", name


def test_secrets_are_in_the_secret_never_in_the_config_map() -> None:
    config = next(d for d in k8s_documents() if d["kind"] == "ConfigMap")
    secret = next(d for d in k8s_documents() if d["kind"] == "Secret")
    secret_like = {
        n for n in settings_read() if re.search("(SECRET|PASSWORD|TOKEN|SECRET_KEY)$", n)
    }

    assert not secret_like & set(config["data"])
    assert {"OIDC_CLIENT_SECRET", "EMAIL_HOST_PASSWORD", "GATEWAY_TOKEN"} <= set(
        secret["stringData"]
    )


def test_compose_publishes_the_emulator_to_this_machine_only_and_needs_an_admin_password() -> None:
    compose = _compose()
    ports = compose["services"]["gateway"]["ports"]
    assert all(str(p).startswith("127.0.0.1:") for p in ports), ports
    admin_password = (
        compose["x-app"]["environment"]["ADMIN_PASSWORD"]
        if "x-app" in compose
        else (compose["services"]["web"]["environment"]["ADMIN_PASSWORD"])
    )
    assert ":?" in admin_password  # compose refuses to start without one


def test_compose_gives_the_web_more_cpu_than_the_worker_on_a_busy_host() -> None:
    """As `make run`'s WORKER_NICE: the API first (Docker's default share is 1,024)."""
    services = _compose()["services"]
    web_share = services["web"].get("cpu_shares", 1024)
    assert services["worker"]["cpu_shares"] * 4 <= web_share


def _compose_env() -> dict[str, str]:
    """The web service's environment as compose resolves it, with strong test secrets."""
    compose = _compose()
    given = {"SECRET_KEY": "deploy-check-" + "k7Qp" * 12, "POSTGRES_PASSWORD": "pg-test-pass"}
    resolved = {}
    for name, raw in compose["services"]["web"]["environment"].items():
        value = str(raw)
        for var, default in re.findall(r"\$\{(\w+):[-?]([^}]*)\}", value):
            value = re.sub(r"\$\{" + var + r":[-?][^}]*\}", given.get(var, default), value)
        resolved[name] = value
    return resolved


def _k8s_env() -> dict[str, str]:
    config = yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((K8S / "secret.yaml").read_text())["stringData"]
    # The Secret's placeholders are refused by design; an operator puts real ones.
    secret = {**secret, "SECRET_KEY": "deploy-check-" + "k7Qp" * 12}
    return {**{k: str(v) for k, v in config.items()}, **{k: str(v) for k, v in secret.items()}}


@pytest.mark.parametrize("source", ["compose", "kubernetes"])
def test_the_production_settings_pass_check_deploy(source: str) -> None:
    """`manage.py check --deploy --fail-level WARNING` with the settings each deployment
    file gives (drf-spectacular's check makes it generate the OpenAPI document too)."""
    import subprocess
    import sys

    settings_env = _compose_env() if source == "compose" else _k8s_env()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OIDC_"))}
    env.update(settings_env)
    env["DATABASE_URL"] = "sqlite:///:memory:"  # the check needs no database
    env["CELERY_BROKER_URL"] = "filesystem://"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # set but empty, prometheus_client writes here
    env["DATA_DIR"] = str(ROOT / ".data")
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
