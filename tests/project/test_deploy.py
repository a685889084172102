"""The deployment files hold together: Kubernetes manifests are well-formed objects that point
at each other correctly, the compose file orders migrations before the app, the Dockerfile runs
as a non-root user with a health check, and every command they run is a real gpuhours command.

No Docker engine or cluster runs here, so this checks structure (with JSON schemas for the
fields that matter) and cross-references rather than behaviour.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from tests.paths import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
PORT = 8000
SECRET_KEYS = {
    "GPUHOURS_DATABASE_URL",
    "GPUHOURS_ADMIN_TOKEN",
    "GPUHOURS_GCP_API_KEY",
    "GPUHOURS_LAMBDA_API_KEY",
}

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_PROBE = {
    "type": "object",
    "oneOf": [
        {
            "required": ["httpGet"],
            "properties": {
                "httpGet": {
                    "type": "object",
                    "required": ["path", "port"],
                    "properties": {"path": {"type": "string"}, "port": {}},
                }
            },
        },
        {
            "required": ["exec"],
            "properties": {
                "exec": {
                    "type": "object",
                    "required": ["command"],
                    "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                }
            },
        },
    ],
}
_CONTAINER = {
    "type": "object",
    "required": ["name", "image"],
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "args": {"type": "array", "items": {"type": "string"}},
        "command": {"type": "array", "items": {"type": "string"}},
        "ports": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["containerPort"],
                "properties": {"containerPort": {"type": "integer"}, "name": {"type": "string"}},
            },
        },
        "env": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"value": {"type": "string"}},
            },
        },
        "envFrom": {"type": "array"},
        "readinessProbe": _PROBE,
        "livenessProbe": _PROBE,
        "resources": {"type": "object"},
        "securityContext": {"type": "object"},
    },
}
_POD_TEMPLATE = {
    "type": "object",
    "required": ["metadata", "spec"],
    "properties": {
        "metadata": {"type": "object", "required": ["labels"]},
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {"type": "array", "minItems": 1, "items": _CONTAINER},
                "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
            },
        },
    },
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Deployment": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "apps/v1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["replicas", "selector", "template"],
                "properties": {
                    "replicas": {"type": "integer", "minimum": 1},
                    "selector": {"type": "object", "required": ["matchLabels"]},
                    "strategy": {
                        "type": "object",
                        "properties": {"type": {"enum": ["Recreate", "RollingUpdate"]}},
                    },
                    "template": _POD_TEMPLATE,
                },
            },
        },
    },
    "Job": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "batch/v1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["template"],
                "properties": {
                    "backoffLimit": {"type": "integer", "minimum": 0},
                    "template": {
                        **_POD_TEMPLATE,
                        "properties": {
                            **_POD_TEMPLATE["properties"],
                            "spec": {
                                **_POD_TEMPLATE["properties"]["spec"],
                                "required": ["containers", "restartPolicy"],
                            },
                        },
                    },
                },
            },
        },
    },
    "Service": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "v1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "required": ["selector", "ports"],
                "properties": {
                    "ports": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["port", "targetPort"]},
                    }
                },
            },
        },
    },
    "ConfigMap": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "data"],
        "properties": {
            "apiVersion": {"const": "v1"},
            "metadata": _METADATA,
            "data": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Secret": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "stringData"],
        "properties": {
            "apiVersion": {"const": "v1"},
            "metadata": _METADATA,
            "type": {"const": "Opaque"},
            "stringData": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Namespace": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {"apiVersion": {"const": "v1"}, "metadata": _METADATA},
    },
    "PodDisruptionBudget": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "policy/v1"},
            "metadata": _METADATA,
            "spec": {"type": "object", "required": ["selector"]},
        },
    },
}


@cache
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every object in deploy/k8s, keyed by (kind, name)."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = document
    return objects


def container(kind: str, name: str) -> dict[str, Any]:
    spec = manifests()[(kind, name)]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    return dict(only)


@cache
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


@cache
def cli_groups() -> tuple[Any, ...]:
    """The real ``gpuhours`` command group, every command registered."""
    from aggregator.cli import app

    return (typer.main.get_command(app),)


def gpuhours_command(args: list[str]) -> None:
    """Parse ``gpuhours ARGS`` with the real CLI: commands, options and their types."""
    assert args, "no command"
    group = next((g for g in cli_groups() if args[0] in g.commands), None)
    assert group is not None, f"gpuhours {args[0]}: no such command"
    context = group.make_context("gpuhours", list(args))
    command, rest = group, list(args)
    while hasattr(command, "commands"):  # groups, such as `db`
        name, command, rest = command.resolve_command(context, rest)
        assert command is not None, f"gpuhours {' '.join(args)}: no such command"
        context = command.make_context(name or "", list(rest), parent=context)


# -- Kubernetes ------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(present)


@pytest.mark.parametrize("key", sorted(manifests()), ids=lambda key: "/".join(key))
def test_each_object_matches_its_schema(key: tuple[str, str]) -> None:
    document = manifests()[key]
    assert key[0] in SCHEMAS, f"no schema for kind {key[0]}"
    jsonschema.validate(document, SCHEMAS[key[0]])


def test_selectors_match_their_pod_labels() -> None:
    for (kind, name), document in manifests().items():
        if kind == "Deployment":
            labels = document["spec"]["template"]["metadata"]["labels"]
            selector = document["spec"]["selector"]["matchLabels"]
            assert selector.items() <= labels.items(), name
    service = manifests()[("Service", "gpuhours-api")]
    api_labels = manifests()[("Deployment", "gpuhours-api")]["spec"]["template"]["metadata"]
    assert service["spec"]["selector"].items() <= api_labels["labels"].items()
    pdb = manifests()[("PodDisruptionBudget", "gpuhours-api")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= api_labels["labels"].items()


def test_the_api_runs_several_replicas_with_readiness_and_liveness_probes() -> None:
    deployment = manifests()[("Deployment", "gpuhours-api")]
    assert deployment["spec"]["replicas"] >= 2
    api = container("Deployment", "gpuhours-api")
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"http": PORT}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["args"][api["args"].index("--port") + 1] == str(PORT)
    gpuhours_command(api["args"])
    service = manifests()[("Service", "gpuhours-api")]
    assert service["spec"]["ports"][0]["targetPort"] in ("http", PORT)


def test_one_scheduler_replaced_by_recreate_with_a_heartbeat_liveness_check() -> None:
    deployment = manifests()[("Deployment", "gpuhours-scheduler")]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    scheduler = container("Deployment", "gpuhours-scheduler")
    assert scheduler["args"] == ["scheduler"]
    gpuhours_command(scheduler["args"])
    heartbeat = {e["name"]: e["value"] for e in scheduler["env"]}[
        "GPUHOURS_SCHEDULER_HEARTBEAT_FILE"
    ]
    assert heartbeat in " ".join(scheduler["livenessProbe"]["exec"]["command"])
    grace = int(
        manifests()[("ConfigMap", "gpuhours-config")]["data"]["GPUHOURS_SHUTDOWN_GRACE_SECONDS"]
    )
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


def test_the_migration_job_runs_db_upgrade_once() -> None:
    job = manifests()[("Job", "gpuhours-migrate")]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    migrate = container("Job", "gpuhours-migrate")
    assert migrate["args"] == ["db", "upgrade"]
    gpuhours_command(migrate["args"])


def test_every_pod_uses_one_image_as_non_root_with_the_config_and_secret() -> None:
    images = set()
    for (kind, name), document in manifests().items():
        if kind not in ("Deployment", "Job"):
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        (spec,) = pod["containers"]
        images.add(spec["image"])
        assert spec["securityContext"]["allowPrivilegeEscalation"] is False, name
        refs = {next(iter(ref)): next(iter(ref.values()))["name"] for ref in spec["envFrom"]}
        assert ("ConfigMap", refs["configMapRef"]) in manifests(), name
        assert ("Secret", refs["secretRef"]) in manifests(), name
    assert len(images) == 1


def test_secrets_live_in_the_secret_and_settings_in_the_config_map() -> None:
    secret = manifests()[("Secret", "gpuhours-secrets")]["stringData"]
    assert set(secret) == SECRET_KEYS
    config = manifests()[("ConfigMap", "gpuhours-config")]["data"]
    assert not set(config) & SECRET_KEYS
    assert all(key.startswith("GPUHOURS_") for key in [*secret, *config])
    from aggregator.scheduler import SchedulerSettings

    SchedulerSettings(schedule=json.loads(config["GPUHOURS_SCHEDULE"]))  # parses


# -- compose ---------------------------------------------------------------------------------------


def test_compose_runs_postgres_a_migration_two_apis_and_a_scheduler() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "api", "scheduler"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert "healthcheck" in services["postgres"]
    for name in ("migrate", "api", "scheduler"):
        service = services[name]
        assert service["image"] == services["api"]["image"]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        gpuhours_command(service["command"])
        env = service["environment"]
        assert env["GPUHOURS_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["GPUHOURS_DATABASE_URL"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["scheduler"]["command"] == ["scheduler"]
    assert "serve" in services["api"]["command"]


def test_compose_starts_the_app_only_after_the_migration_completed() -> None:
    services = compose()["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_publishes_the_api_on_loopback_and_checks_the_scheduler_heartbeat() -> None:
    services = compose()["services"]
    (published,) = services["api"]["ports"]
    host, ports, container_port = published.split(":")
    assert host == "127.0.0.1" and container_port == str(PORT)
    assert ports == f"{PORT}-{PORT + 1}"  # one host port per replica
    scheduler = services["scheduler"]
    heartbeat = scheduler["environment"]["GPUHOURS_SCHEDULER_HEARTBEAT_FILE"]
    assert heartbeat in " ".join(scheduler["healthcheck"]["test"])
    grace = int(scheduler["environment"]["GPUHOURS_SHUTDOWN_GRACE_SECONDS"])
    assert int(scheduler["stop_grace_period"].rstrip("s")) > grace


# -- Dockerfile ------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def test_the_image_is_slim_non_root_and_health_checked() -> None:
    steps = dockerfile()
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert bases and all(base.endswith("-slim") for base in bases)
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [args for op, args in steps if op == "HEALTHCHECK"]
    assert f"127.0.0.1:{PORT}/healthz" in healthcheck
    assert ("EXPOSE", str(PORT)) in steps
    (entrypoint,) = [args for op, args in steps if op == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoint) == ["gpuhours"]
    (cmd,) = [args for op, args in steps if op == "CMD"]
    gpuhours_command(yaml.safe_load(cmd))


def test_the_image_copies_what_exists_and_installs_the_console_script() -> None:
    for op, args in dockerfile():
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (REPO / source).exists(), source
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'gpuhours = "aggregator.cli:main"' in pyproject
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {"!aggregator/", "!plugins/", "!db/", "!pyproject.toml", "!README.md"} <= set(ignore)


def test_the_readme_covers_each_way_to_run_it() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for needle in (
        "gpuhours serve --scheduler",
        "docker compose -f deploy/compose.yaml up",
        "kubectl apply -k deploy/k8s",
        "GPUHOURS_ADMIN_TOKEN",
        "GPUHOURS_SCHEDULE",
    ):
        assert needle in readme
