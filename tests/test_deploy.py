"""The container deployment stays runnable: compose.yaml is a valid Compose file whose services
run commands the real CLI has, with health checks on the ports the services listen on; the
image runs as a non-root user; the example env file names only real settings."""

from __future__ import annotations

import importlib.util
import re
import shlex
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from typer.testing import CliRunner

from tests.conftest import REPO_ROOT
from tuneloop.cli import app as cli_app
from tuneloop.healthcheck import main as healthcheck
from tuneloop.metrics import Metrics
from tuneloop.metrics.http import MetricsServer
from tuneloop.settings import Settings

COMPOSE = REPO_ROOT / "compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / "deploy" / "tuneloop.env.example"
TUNELOOP_SERVICES = ("migrate", "serve", "scheduler")
#: The keys a Compose service may have that this file uses (the Compose specification's names).
SERVICE_KEYS = {
    "build", "image", "command", "env_file", "environment", "volumes", "ports", "expose",
    "healthcheck", "depends_on", "restart", "deploy", "ipc",
}  # fmt: skip


def setting_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        assert isinstance(field.validation_alias, AliasChoices)
        names.update(str(choice) for choice in field.validation_alias.choices)
    return names


def usage(argv: list[str]) -> str:
    """The usage line of the CLI command `argv` runs, after the CLI parsed its command path
    and options (`--help` stops it there): AssertionError naming the problem when the command
    or an option does not exist."""
    assert argv[0] == "tuneloop", argv
    result = CliRunner().invoke(cli_app, [*argv[1:], "--help"], prog_name="tuneloop")
    assert result.exit_code == 0, f"{shlex.join(argv)}: {result.output}"
    return next(line.strip() for line in result.output.splitlines() if "Usage:" in line)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _healthcheck_url(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "tuneloop.healthcheck"], test
    return test[4]


def test_compose_runs_postgres_the_bot_and_the_scheduler(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", *TUNELOOP_SERVICES} <= services.keys()
    for name, service in services.items():
        assert service.keys() <= SERVICE_KEYS, (name, service.keys() - SERVICE_KEYS)
        assert "image" in service or "build" in service, name
        for needed in service.get("depends_on", {}):
            assert needed in services, (name, needed)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], (name, source)
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    for name in TUNELOOP_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["env_file"] == "deploy/tuneloop.env"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert set(service["environment"]) <= setting_names(), name
    for name in ("serve", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_tuneloop_command_in_compose_and_the_image_exists(compose: dict[str, Any]) -> None:
    commands = [compose["services"][name]["command"] for name in TUNELOOP_SERVICES]
    assert [usage(argv).split()[1:3] for argv in commands] == [
        ["tuneloop", "db"],  # Usage: tuneloop db upgrade [OPTIONS]
        ["tuneloop", "serve"],
        ["tuneloop", "scheduler"],
    ]
    assert usage(commands[0]).startswith("Usage: tuneloop db upgrade")
    [cmd] = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD ")]
    assert usage(yaml.safe_load(cmd.removeprefix("CMD "))).startswith("Usage: tuneloop serve")
    with pytest.raises(AssertionError, match="no-such-option"):
        usage(["tuneloop", "serve", "--no-such-option"])  # the check can fail
    with pytest.raises(AssertionError, match="schedule"):
        usage(["tuneloop", "schedule"])
    assert importlib.util.find_spec("tuneloop.healthcheck") is not None


def test_health_checks_ask_the_ports_the_services_listen_on(compose: dict[str, Any]) -> None:
    serve, scheduler = compose["services"]["serve"], compose["services"]["scheduler"]
    argv = serve["command"]
    port = argv[argv.index("--port") + 1]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert _healthcheck_url(serve) == f"http://127.0.0.1:{port}/healthz"
    assert f"{port}:{port}" in serve["ports"]
    metrics_port = scheduler["environment"]["TUNELOOP_METRICS_PORT"]
    assert scheduler["environment"]["TUNELOOP_METRICS_HOST"] == "0.0.0.0"
    assert _healthcheck_url(scheduler) == f"http://127.0.0.1:{metrics_port}/healthz"
    assert metrics_port in scheduler["expose"]


def test_the_commented_vllm_service_is_valid_once_uncommented(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    block = text[text.index("  # vllm:") : text.index("  # --- end of vLLM")]
    uncommented = "\n".join(re.sub(r"^  # ?", "  ", line) for line in block.splitlines())
    vllm = yaml.safe_load("services:\n" + uncommented)["services"]["vllm"]
    assert vllm.keys() <= SERVICE_KEYS
    assert vllm["image"].startswith("vllm/vllm-openai:")
    assert "--enable-lora" in vllm["command"]
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert "VLLM_API_KEY" in vllm["environment"]
    [gpu] = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["capabilities"] == ["gpu"]
    # It reads the adapters where tuneloop writes them: the same volume at the same path.
    assert "tuneloop-data:/data:ro" in vllm["volumes"]
    assert "tuneloop-data:/data" in compose["services"]["scheduler"]["volumes"]
    assert "/health" in " ".join(vllm["healthcheck"]["test"])


def test_the_image_is_slim_non_root_and_checks_its_health() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert lines[[line.startswith("FROM ") for line in lines].index(True)] == (
        "FROM python:3.11-slim"
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith('RUN pip install ".') for line in lines)
    assert "python -m tuneloop.healthcheck" in " ".join(
        " ".join(yaml.safe_load(line.split("CMD ", 1)[1])) for line in lines if "CMD [" in line
    )
    for line in lines:
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (REPO_ROOT / source).exists(), source


def test_the_env_example_names_only_real_settings() -> None:
    named = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TUNELOOP_SEEDS_DIR"} <= set(named)
    assert {"TUNELOOP_LOG_FORMAT", "TUNELOOP_VLLM_URL", "OPENAI_API_KEY"} <= set(named)
    assert set(named) - setting_names() == set()
    assert "deploy/tuneloop.env" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_the_health_check_command_says_healthy_or_why_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy = MetricsServer(Metrics().registry, host="127.0.0.1", port=0, health=lambda: {})

    def down() -> dict[str, Any]:
        raise RuntimeError("the database is unreachable")

    sick = MetricsServer(Metrics().registry, host="127.0.0.1", port=0, health=down)
    try:
        assert healthcheck([f"{healthy.url}/healthz"]) == 0
        assert healthcheck([f"{sick.url}/healthz"]) == 1
        said = capsys.readouterr().err
        assert "HTTP 503" in said and "the database is unreachable" in said
        assert healthcheck([f"{healthy.url}/nothing-here"]) == 1
    finally:
        healthy.close()
        sick.close()
    assert healthcheck([f"{healthy.url}/healthz"]) == 1  # closed: no answer
    assert "no answer" in capsys.readouterr().err
