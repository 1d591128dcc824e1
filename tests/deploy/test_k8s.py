"""deploy/k8s, rendered by `kubectl kustomize` and checked offline: every object against the
Kubernetes schemas, every container's command against the `coursestream` command line, every
variable against the Settings classes, and the whole against compose.yaml."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from coursestream import registry
from tests.deploy.test_containers import COMPOSE, ROOT, assert_cli_accepts, dockerfile_cmd
from tests.deploy.tools import kubectl

OVERLAYS = ["base", "production"]
PROCESSES = [*registry.SERVICES, *registry.WORKERS]
# The Secrets the objects reference; an operator creates them (docs/operations.md).
SECRETS = {"coursestream-jwt", "coursestream-databases", "coursestream-sms"}
KUBERNETES_VERSION = "1.30"  # the oldest release still supported upstream when written


@cache
def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run([kubectl(), "kustomize", str(ROOT / "deploy" / "k8s" / overlay)],
                         check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def pod_specs(overlay: str) -> dict[str, dict[str, Any]]:
    """Every Deployment's and Job's pod spec, by object name."""
    workloads = {**objects(overlay, "Deployment"), **objects(overlay, "Job")}
    return {name: o["spec"]["template"]["spec"] for name, o in workloads.items()}


def container(overlay: str, name: str) -> dict[str, Any]:
    [only] = pod_specs(overlay)[name]["containers"]
    return dict(only)


def config_maps(overlay: str) -> dict[str, dict[str, str]]:
    """ConfigMap data by the name the pods use (the generated hash suffix dropped)."""
    return {o["metadata"]["name"].rsplit("-", 1)[0]: o["data"]
            for o in render(overlay) if o["kind"] == "ConfigMap"}


def environment(overlay: str, name: str) -> dict[str, str | None]:
    """A container's variables: from its ConfigMaps with their values, from Secrets as None."""
    spec = container(overlay, name)
    maps = config_maps(overlay)
    env: dict[str, str | None] = {}
    for source in spec.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"].rsplit("-", 1)[0]])
    for var in spec.get("env", []):
        env[var["name"]] = var.get("value")
    return env


def variables(field_name: str, field: FieldInfo) -> set[str]:
    """The environment variables one setting is read from."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return {choice.upper() for choice in alias.choices if isinstance(choice, str)}
    return {str(alias or field_name).upper()}


def setting_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a Settings class reads."""
    return set().union(*(variables(n, f) for n, f in settings.model_fields.items()))


def service_of(process: str) -> str:
    """The service a process belongs to: itself, or the service whose code runs the worker."""
    if process in registry.SERVICES:
        return process
    module = registry.WORKERS[process].main().__module__  # services.<name>.entrypoints....
    return module.split(".")[1]


def settings_classes(process: str) -> list[type[BaseSettings]]:
    """The Settings classes `process` reads; the migration reads every service's."""
    services = list(registry.SERVICES) if process == "migrate" else [service_of(process)]
    return [type(registry.SERVICES[s].settings()) for s in services]


def settings_of(process: str) -> set[str]:
    """Every variable `process` reads."""
    return set().union(*(setting_names(cls) for cls in settings_classes(process)))


def default_of(process: str, variable: str) -> str | None:
    """The value `process` takes for `variable` when it is not set (None: none)."""
    for cls in settings_classes(process):
        for field_name, field in cls.model_fields.items():
            if variable in variables(field_name, field):
                return None if field.default is None else str(field.default)
    return None


def metrics_port(process: str) -> int:
    if process == "gateway":
        return registry.GATEWAY_ADMIN_PORT
    if process in registry.SERVICES:
        return registry.SERVICES[process].port
    return registry.GATEWAY.port + registry.WORKER_METRICS_PORTS[process][1]


def all_containers(overlay: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in pod_specs(overlay).items():
        for each in [*spec.get("initContainers", []), *spec["containers"]]:
            yield name, each


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_passes_the_kubernetes_schemas(overlay: str) -> None:
    docs = render(overlay)
    assert len(docs) > 20
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validation_refuses_a_broken_object() -> None:
    """The check above can fail: a misspelt field is refused."""
    deployment = dict(objects("base", "Deployment")["catalog"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_deployment_per_service_and_worker_and_a_migration_job(overlay: str) -> None:
    assert set(objects(overlay, "Deployment")) == set(PROCESSES)
    assert set(objects(overlay, "Job")) == {"migrate"}
    for name in PROCESSES:
        image = container(overlay, name)["image"]
        assert f"coursestream/{service_of(name)}:" in image or \
            image == f"coursestream-{service_of(name)}", image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_command_is_a_real_coursestream_command_of_its_process(overlay: str) -> None:
    for name, each in all_containers(overlay):
        argv = each["command"]
        assert_cli_accepts(argv)
        if name in registry.SERVICES:
            assert argv[1:3] == ["serve", name]
            assert argv[argv.index("--port") + 1] == str(registry.SERVICES[name].port)
        elif name in registry.WORKERS:
            assert argv[1:] == ["worker", name]
        else:
            assert argv[1:] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_variable_is_a_real_setting_of_its_process(overlay: str) -> None:
    for name in [*PROCESSES, "migrate"]:
        unknown = set(environment(overlay, name)) - settings_of(name)
        assert not unknown, f"{name}: no such setting {sorted(unknown)}"


def test_the_setting_check_knows_prefixed_names() -> None:
    assert "CATALOG_BANNER_CACHE_TTL_S" in settings_of("catalog")
    assert "SMS_HTTP_URL" in settings_of("sms-sender") and "SMS_HTTP_URL" not in settings_of(
        "order-writer")
    assert "NO_SUCH_SETTING" not in settings_of("migrate")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_non_root_on_a_read_only_root_with_resources(overlay: str) -> None:
    for name, spec in pod_specs(overlay).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        for each in spec["containers"]:
            context = each["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            for key in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(each["resources"][key]), name
            mounts = {m["mountPath"]: volumes[m["name"]] for m in each["volumeMounts"]}
            assert "emptyDir" in mounts["/tmp"], name
            for mount in each["volumeMounts"]:  # writable only where it is an emptyDir
                assert mount.get("readOnly") or "emptyDir" in volumes[mount["name"]], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_readyz_and_healthz_on_the_process_port(overlay: str) -> None:
    for name in PROCESSES:
        each = container(overlay, name)
        ports = {p["name"]: p["containerPort"] for p in each["ports"]}
        ready, live = each["readinessProbe"]["httpGet"], each["livenessProbe"]["httpGet"]
        assert live["path"] == "/healthz"
        if name in registry.SERVICES:
            assert ports[ready["port"]] == ports[live["port"]] == registry.SERVICES[name].port
            assert ready["path"] == "/readyz"
        else:  # a worker serves /healthz and /metrics only, on its metrics port
            assert ports[ready["port"]] == ports[live["port"]] == metrics_port(name)
            assert ready["path"] == "/healthz"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_outlasts_the_drain_and_the_stop(overlay: str) -> None:
    for name in PROCESSES:
        settings = type(registry.SERVICES[service_of(name)].settings())
        env = environment(overlay, name)
        drain = float(env.get("DRAIN_S") or settings.model_fields["drain_s"].default)
        stop = float(env.get("SHUTDOWN_TIMEOUT_S")
                     or settings.model_fields["shutdown_timeout_s"].default)
        grace = pod_specs(overlay)[name]["terminationGracePeriodSeconds"]
        assert grace > drain + stop, f"{name}: {grace} s <= {drain} + {stop} s"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_http_service_has_a_service_an_autoscaler_and_a_disruption_budget(
        overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    services, hpas = objects(overlay, "Service"), objects(overlay, "HorizontalPodAutoscaler")
    pdbs = objects(overlay, "PodDisruptionBudget")
    assert set(services) == set(hpas) == set(pdbs) == set(registry.SERVICES)
    for name, entry in registry.SERVICES.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [entry.port]
        target = hpas[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert "replicas" not in deployments[name]["spec"]  # the autoscaler owns them
    assert min(h["spec"]["minReplicas"] for h in objects("production",
                                                          "HorizontalPodAutoscaler").values()) >= 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reaches_each_service_by_its_service_name(overlay: str) -> None:
    env = environment(overlay, "gateway")
    services = objects(overlay, "Service")
    for name in registry.SERVICES.keys() - {"gateway"}:
        port = registry.SERVICES[name].port
        assert env[f"{name.upper()}_URL"] == f"http://{name}:{port}"
        # headless: the name resolves to every ready pod, which the gateway balances over
        assert services[name]["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_and_never_committed(overlay: str) -> None:
    assert not objects(overlay, "Secret")
    referenced: set[str] = set()
    for name, spec in pod_specs(overlay).items():
        for volume in spec["volumes"]:
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
                keys = {i["key"] for i in volume["secret"].get("items", [])}
                # only the gateway may read the signing key; the services check its
                # assertions (the shared HMAC key), the workers and the Job take no request
                # (and the keys still accepted during a key rotation, docs/operations.md)
                assert name == "gateway" or keys == {"jwt-public.pem"} | (
                    {"gateway-assertion.key", "jwt-previous-public.pem"}
                    if name in registry.SERVICES else set()), name
        for each in spec["containers"]:
            referenced |= {v["valueFrom"]["secretKeyRef"]["name"] for v in each.get("env", [])
                           if "secretKeyRef" in v.get("valueFrom", {})}
    assert referenced == SECRETS
    settings = config_maps(overlay)["coursestream-settings"]
    assert settings["JWT_PUBLIC_KEY_FILE"].startswith("/run/secrets/")
    assert settings["JWT_PREVIOUS_PUBLIC_KEYS_FILE"].startswith("/run/secrets/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_scrapes_each_pod_on_its_metrics_port(overlay: str) -> None:
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    compose_ports = {job["job_name"]: int(target.rsplit(":", 1)[1])
                     for job in scrape["scrape_configs"] for sc in job["static_configs"]
                     for target in sc["targets"]}
    for name, deployment in objects(overlay, "Deployment").items():
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
        port = int(notes["prometheus.io/port"])
        assert port == metrics_port(name) == compose_ports[name]
        assert port in {p["containerPort"] for p in container(overlay, name)["ports"]}


def compose_environment(process: str) -> dict[str, Any]:
    return dict(COMPOSE["services"][process].get("environment") or {})


def compose_command(process: str) -> list[str]:
    service = COMPOSE["services"][process]
    return list(service.get("command") or dockerfile_cmd(ROOT / service["build"]["dockerfile"]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_compose_and_kubernetes_run_the_same_processes_ports_and_settings(overlay: str) -> None:
    infrastructure = {"redis", "postgres", "prometheus"}  # managed outside the cluster's objects
    assert set(COMPOSE["services"]) - infrastructure == set(pod_specs(overlay))
    for name in [*PROCESSES, "migrate"]:
        each = container(overlay, name)
        build = COMPOSE["services"][name]["build"]["dockerfile"]  # services/<image>/Dockerfile
        assert build.split("/")[1] in each["image"]
        argv = compose_command(name)
        assert each["command"][:3] == argv[:3]  # the same process; k8s names its port too
        if name in registry.SERVICES:
            dockerfile = (ROOT / build).read_text()
            ports = {p["containerPort"] for p in each["ports"]}
            assert ports == {int(p) for p in dockerfile.split("EXPOSE ")[1].split("\n")[0].split()}
        # The same settings, where compose's variables are settings of the process (compose
        # hands every database address to every process; each pod gets its own only): set in
        # both, or set in one to the value the other takes by default.
        k8s_env = environment(overlay, name)
        compose_env = {var: value for var, value in compose_environment(name).items()
                       if var in settings_of(name)}
        for var in k8s_env.keys() ^ compose_env.keys():
            value = k8s_env.get(var, compose_env.get(var))
            assert value is not None and str(value) == default_of(name, var), \
                f"{name}: {var} is set only in {'k8s' if var in k8s_env else 'compose'}"
        for var in ("ENV", "JWT_PUBLIC_KEY_FILE", "JWT_PRIVATE_KEY_FILE", "SMS_PROVIDER",
                    "CATALOG_URL", "SECKILL_URL", "SCHEDULER_URL"):
            if var in compose_env:
                assert k8s_env[var] == compose_env[var], (name, var)
