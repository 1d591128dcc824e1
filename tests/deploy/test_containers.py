"""compose.yaml, the Dockerfiles and the Prometheus config, checked without a Docker engine:
parsed, and their commands run through the same `coursestream` command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from coursestream import registry
from coursestream.cli import main
from coursestream.web_client import MIN_NODE
from services.scheduler.settings import Settings as SchedulerSettings
from services.seckill.settings import Settings as SeckillSettings
from shared.settings import Settings as WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile_cmd(path: Path) -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", path.read_text(), re.MULTILINE)
    assert match, f"{path} has no exec-form CMD"
    return list(json.loads(match.group(1)))


def assert_cli_accepts(argv: list[str]) -> None:
    """The container's command parses as a real `coursestream` invocation."""
    assert argv[0] == "coursestream"
    result = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("service", list(registry.SERVICES))
def test_each_service_has_an_image_that_serves_it(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    cmd = dockerfile_cmd(dockerfile)
    assert cmd[:3] == ["coursestream", "serve", service]
    assert_cli_accepts(cmd)
    assert f"EXPOSE {registry.SERVICES[service].port}" in dockerfile.read_text()
    for line in re.findall(r"^COPY (?!--from)(\S+)", dockerfile.read_text(), re.MULTILINE):
        assert (ROOT / line).exists(), f"{dockerfile} copies missing {line}"
    build = COMPOSE["services"][service]["build"]
    assert build["dockerfile"] == f"services/{service}/Dockerfile"


def test_each_image_runs_as_the_unprivileged_user_its_pods_run_as() -> None:
    """Not root, and the uid of the Kubernetes manifests, which own `/app/var` (fsGroup)."""
    pods: dict[str, int] = {}
    for manifest in (ROOT / "deploy" / "k8s" / "base").glob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if doc and doc.get("kind") == "Deployment":
                spec = doc["spec"]["template"]["spec"]
                for container in spec["containers"]:
                    pods[container["image"]] = spec["securityContext"]["runAsUser"]
    for service in registry.SERVICES:
        text = (ROOT / "services" / service / "Dockerfile").read_text()
        users = re.findall(r"^USER (\d+):\d+$", text, re.MULTILINE)
        assert users and int(users[-1]) != 0, f"{service}'s image runs as root"
        assert pods[f"coursestream-{service}"] == int(users[-1])
        assert "chown coursestream:coursestream /app/var" in text


def test_the_gateway_image_builds_the_web_client_as_coursestream_up_does() -> None:
    text = (ROOT / "services" / "gateway" / "Dockerfile").read_text()
    node, python = re.split(r"^FROM python", text, maxsplit=1, flags=re.MULTILINE)
    scripts = json.loads((ROOT / "web" / "package.json").read_text())["scripts"]
    version = re.search(r"^FROM node:(\d+)\S* AS web$", node, re.MULTILINE)
    assert version and int(version.group(1)) >= MIN_NODE
    runs = re.findall(r"^RUN (.+)$", node, re.MULTILINE)
    assert runs == ["npm ci --no-audit --no-fund", "npm run build"] and "build" in scripts
    assert "COPY --from=web /web/dist web/dist" in python and "COPY web/media web/media" in python
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"web/node_modules", "web/dist", ".venv"} <= set(ignored)


def test_compose_runs_every_service_worker_and_dependency() -> None:
    services = COMPOSE["services"]
    assert {"redis", "postgres", "prometheus", "migrate", *registry.SERVICES,
            *registry.WORKERS} <= set(services)
    for name in registry.WORKERS:
        assert_cli_accepts(services[name]["command"])
    assert_cli_accepts(services["migrate"]["command"])
    env = COMPOSE["x-common-env"]
    for service in registry.DATABASE_SERVICES:
        assert env[f"{service.upper()}_DATABASE_URL"].startswith("postgresql://")
    assert env["ENV"] == "production" and "JWT_PUBLIC_KEY_FILE" in env
    gateway = services["gateway"]["environment"]
    assert "JWT_PRIVATE_KEY_FILE" in gateway and "SMS_CODE_SECRET" in gateway
    sms_sender = services["sms-sender"]["environment"]
    assert sms_sender["SMS_PROVIDER"] == "http" and "SMS_HTTP_URL" in sms_sender


def metrics_address(name: str, process: dict[str, Any]) -> str:
    """Where a compose process serves /metrics: a service on its port (the gateway on its
    admin port), a worker on its metrics port setting (compose's value, else the default)."""
    if name == "gateway":
        return f"{name}:{process.get('environment', {}).get('GATEWAY_ADMIN_PORT', 8009)}"
    if name in registry.SERVICES:
        return f"{name}:{registry.SERVICES[name].port}"
    command = process["command"]
    assert command[:2] == ["coursestream", "worker"], name
    setting, offset = registry.WORKER_METRICS_PORTS[command[2]]
    env = {**COMPOSE["x-common-env"], **process.get("environment", {})}
    return f"{name}:{env.get(setting, registry.GATEWAY.port + offset)}"


def test_prometheus_scrapes_every_process_of_compose_where_it_listens() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    processes = {name: p for name, p in COMPOSE["services"].items()
                 if "build" in p and name != "migrate"}  # a job, done before the rest
    assert set(processes) == {*registry.SERVICES, *registry.WORKERS}
    assert targets == {metrics_address(name, p) for name, p in processes.items()}
    # ... and they listen where Prometheus can reach them: the workers on every interface
    # by default (only `coursestream up` binds them to loopback), the gateway admin too.
    assert WorkerSettings.model_fields["worker_metrics_host"].default == "0.0.0.0"
    env = COMPOSE["x-common-env"]
    assert env.get("WORKER_METRICS_HOST", "0.0.0.0") == "0.0.0.0"
    assert "GATEWAY_ADMIN_HOST=0.0.0.0" in (ROOT / "services/gateway/Dockerfile").read_text()
    ports = {w: registry.GATEWAY.port + offset
             for w, (_, offset) in registry.WORKER_METRICS_PORTS.items()}
    assert SeckillSettings().order_writer_metrics_port == ports["order-writer"]
    assert SchedulerSettings().sms_metrics_port == ports["sms-sender"]


@pytest.mark.slow
def test_the_wheel_the_images_install_carries_migrations(tmp_path: Path) -> None:
    """`pip install .` in the images must bring every migration along."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("coursestream-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for service in registry.SERVICES:
        assert f"services/{service}/migrations/env.py" in names
        assert f"services/{service}/migrations/script.py.mako" in names
        assert any(n.startswith(f"services/{service}/migrations/versions/") for n in names)
