"""The deployment, checked offline: the Kubernetes overlays render (``kubectl kustomize``),
pass the schemas of every Kubernetes version we support (``kubernetes-validate``; the CRDs
against deploy/kubernetes/schemas) and a policy scan (checkov, where ``make
deploy-check`` or ``make test`` installed it), and keep their invariants: numeric gRPC
probe ports on the health-only port, a grace period that covers preStop and the drain,
selectors that match the pods, pinned images, non-root read-only containers whose only
writable volumes are caches, settings that ``Settings`` accepts. The image's steps are
replayed as far as a machine without a container engine allows: the digest pin, the
runtime install from the lock (wheels built, then resolved with pip against the lock),
and the model fetch script on tiny models.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from server_harness import subset_catalog

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")
jsonschema = pytest.importorskip("jsonschema")

from polybrief.service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["cpu", "gpu", "servicemonitor", "hpa-cpu", "baked-models"]
#: Kubernetes minor versions the manifests support: gRPC probes are GA since 1.27; the
#: oldest still maintained by the big providers' extended support is 1.29.
K8S_VERSIONS = [f"1.{minor}.0" for minor in range(29, 36)]
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_ScaledObject.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_ServiceMonitor.json",
}
#: installed by `make deploy-check` (and `make test`) from deploy/kubernetes/checkov.lock
CHECKOV = Path(
    os.environ.get(
        "POLYBRIEF_CHECKOV", ROOT / "build" / "deploy-tools" / "checkov" / "bin" / "checkov"
    )
)
SERVER_LABELS = {"app.kubernetes.io/name": "polybrief", "app.kubernetes.io/component": "server"}

Doc = dict[str, Any]


# rendering -------------------------------------------------------------------------------


def render(path: Path) -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (it renders the Kustomize overlays)")
    done = subprocess.run(
        [kubectl, "kustomize", str(path)], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    return {overlay: render(DEPLOY / "overlays" / overlay) for overlay in OVERLAYS}


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def containers(spec: Doc) -> list[Doc]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def server(docs: list[Doc]) -> Doc:
    return one(docs, "Deployment", "polybrief")


def main_container(docs: list[Doc]) -> Doc:
    (container,) = [
        c
        for c in server(docs)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "polybrief"
    ]
    return container


def server_env(docs: list[Doc]) -> dict[str, str]:
    """The server container's environment: the ConfigMap it loads, then its own env."""
    env = dict(one(docs, "ConfigMap")["data"])
    env.update({e["name"]: e["value"] for e in main_container(docs).get("env", []) if "value" in e})
    return env


def subset(small: dict[str, str], big: dict[str, str]) -> bool:
    return all(big.get(k) == v for k, v in small.items())


def test_every_overlay_renders(rendered: dict[str, list[Doc]]) -> None:
    for overlay, docs in rendered.items():
        kinds = {d["kind"] for d in docs}
        assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
        for doc in docs:
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == "polybrief", (overlay, doc["kind"])
        autoscalers = kinds & {"ScaledObject", "HorizontalPodAutoscaler"}
        assert len(autoscalers) == 1, (overlay, autoscalers)  # never two owners of replicas
    assert "ServiceMonitor" in {d["kind"] for d in rendered["servicemonitor"]}
    assert "HorizontalPodAutoscaler" in {d["kind"] for d in rendered["hpa-cpu"]}


# schemas ---------------------------------------------------------------------------------


def crd_validator(doc: Doc) -> Any:
    name = CRD_SCHEMAS[(doc["apiVersion"], doc["kind"])]
    schema = json.loads((DEPLOY / "schemas" / name).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validate(doc: Doc, version: str) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRD_SCHEMAS:
        crd_validator(doc).validate(doc)
    else:  # a kind with no bundled schema raises SchemaNotFoundError: a failure here
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_schemas_of_supported_kubernetes_versions(
    rendered: dict[str, list[Doc]], version: str
) -> None:
    examples = list(yaml.safe_load_all((DEPLOY / "examples" / "secrets.example.yaml").read_text()))
    for overlay, docs in [*rendered.items(), ("examples", examples)]:
        for doc in docs:
            try:
                validate(doc, version)
            except Exception as error:
                pytest.fail(
                    f"{overlay}: {doc['kind']}/{doc['metadata']['name']} on {version}: {error}"
                )


def test_crd_schemas_catch_the_usual_mistakes(rendered: dict[str, list[Doc]]) -> None:
    """The hand-written CRD schemas are not blank checks."""
    scaled = one(rendered["cpu"], "ScaledObject")
    numeric = json.loads(json.dumps(scaled))
    numeric["spec"]["triggers"][0]["metadata"]["threshold"] = 12  # KEDA wants a string
    misspelt = json.loads(json.dumps(scaled))
    misspelt["spec"]["minReplicas"] = 2  # the HPA's name, not KEDA's
    monitor = one(rendered["servicemonitor"], "ServiceMonitor")
    bad_interval = json.loads(json.dumps(monitor))
    bad_interval["spec"]["endpoints"][0]["interval"] = "15"
    for doc in (numeric, misspelt, bad_interval):
        assert not crd_validator(doc).is_valid(doc)


def test_example_key_file_is_what_the_server_reads(tmp_path: Path) -> None:
    from polybrief.service.middleware.auth import KeyStore

    docs = yaml.safe_load_all((DEPLOY / "examples" / "secrets.example.yaml").read_text())
    keys = next(d for d in docs if d["metadata"]["name"] == "polybrief-api-keys")
    path = tmp_path / "keys.toml"
    path.write_text(keys["stringData"]["keys.toml"])
    KeyStore.load(path)  # raises KeyFileError on anything the server would refuse


# policy scan -----------------------------------------------------------------------------


def test_policy_scan(rendered: dict[str, list[Doc]], tmp_path: Path) -> None:
    if not CHECKOV.is_file():
        pytest.skip(f"checkov is not installed at {CHECKOV} (make deploy-check installs it)")
    for overlay, docs in rendered.items():
        (tmp_path / f"{overlay}.yaml").write_text(yaml.safe_dump_all(docs))
    config = DEPLOY / ".checkov.yaml"
    done = subprocess.run(
        [str(CHECKOV), "--config-file", str(config), "-d", str(tmp_path), "-o", "json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    passed = sum(report["summary"]["passed"] for report in reports)
    assert not failed, "\n".join(failed)
    assert passed > 0
    assert done.returncode == 0, done.stderr[-2000:]


# invariants ------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_grace_and_ports(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    env = server_env(docs)
    health_port = int(env["POLYBRIEF_HEALTH_PORT"])
    defaults = Settings.model_fields
    serving_port = int(env.get("POLYBRIEF_PORT", defaults["port"].default))
    container = main_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "grpc": serving_port,
        "grpc-health": health_port,
        "metrics": int(env["POLYBRIEF_METRICS_PORT"]),
        "http": int(env["POLYBRIEF_HTTP_PORT"]),
    }
    # HTTP/JSON and the editors' page: on the ClusterIP Service, and let in by the policy
    service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "polybrief"
    )
    assert {"name": "http", "port": ports["http"], "targetPort": "http", "protocol": "TCP"} in (
        service["spec"]["ports"]
    )
    policy = next(
        d
        for d in docs
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "polybrief-server"
    )
    admitted = {p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}
    assert {serving_port, ports["http"]} <= admitted
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[kind]
        assert set(probe) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, kind
        port = probe["grpc"]["port"]
        assert isinstance(port, int), (kind, port)
        assert port == health_port, kind  # the plaintext health port: works with TLS on
    # startup covers loading (and converting) the models: Triton's 30 x 10 s at least
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert container["readinessProbe"]["grpc"]["service"] == "polybrief.v1.Polybrief"

    pod = server(docs)["spec"]["template"]["spec"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    drain = float(env.get("POLYBRIEF_GRACE_SECONDS", defaults["grace_seconds"].default))
    assert pre_stop > 0
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_the_pods(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    deployment = server(docs)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == SERVER_LABELS
    assert subset(selector, labels)
    assert one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    services = [d for d in docs if d["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {"polybrief", "polybrief-headless"}
    container_ports = {p["name"] for p in main_container(docs)["ports"]}
    for service in services:
        assert service["spec"]["selector"] == selector
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    headless = one(docs, "Service", "polybrief-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert not headless["spec"].get("publishNotReadyAddresses")  # only ready pods in DNS
    policy = one(docs, "NetworkPolicy", "polybrief-server")
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    for scaler in (d for d in docs if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")):
        target = scaler["spec"]["scaleTargetRef"]
        assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", "polybrief")
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        picked = [
            s
            for s in services
            if subset(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert [s["metadata"]["name"] for s in picked] == ["polybrief"]
        service_ports = {p["name"] for p in picked[0]["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= service_ports
    if "Job" in {d["kind"] for d in docs}:
        job_labels = one(docs, "Job")["spec"]["template"]["metadata"]["labels"]
        assert not subset(selector, job_labels)  # the Job's pod is no server
        job_policy = one(docs, "NetworkPolicy", "polybrief-models-pull")
        assert subset(job_policy["spec"]["podSelector"]["matchLabels"], job_labels)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(rendered: dict[str, list[Doc]], overlay: str) -> None:
    images = set()
    for where, spec in pod_specs(rendered[overlay]):
        for container in containers(spec):
            image = container["image"]
            name, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
            assert name, f"{where}: {image}"
            assert tag not in ("", "latest"), f"{where}: {image}"
            assert container.get("imagePullPolicy") in ("IfNotPresent", "Always"), where
            images.add(image)
    assert len(images) == 1, images  # the init container and the Job run the server's image
    # each overlay its build: the CUDA one on GPUs, the one with the models when baked
    suffix = {"gpu": "-cuda", "baked-models": "-models"}.get(overlay, "")
    assert re.fullmatch(rf"[^:]+:\d+\.\d+\.\d+{suffix}", images.pop())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hardened_pods(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    assert one(docs, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    for where, spec in pod_specs(docs):
        assert spec["automountServiceAccountToken"] is False, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] > 10000
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        assert not any("hostPath" in v for v in volumes.values()), where
        for container in containers(spec):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, (where, container["name"])
            assert security["readOnlyRootFilesystem"] is True, (where, container["name"])
            assert security["capabilities"] == {"drop": ["ALL"]}, (where, container["name"])
            assert not security.get("privileged")
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), (where, container["name"])
            for mount in container.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                if mount.get("readOnly"):
                    continue
                # writable: scratch (emptyDir) anywhere, the model caches only in the Job
                if "emptyDir" in volume:
                    assert "sizeLimit" in volume["emptyDir"], (where, mount)
                    continue
                assert where.startswith("Job/"), (where, mount)
                assert mount["mountPath"] == "/models", (where, mount)
                assert "persistentVolumeClaim" in volume


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_are_what_the_server_accepts(rendered: dict[str, list[Doc]], overlay: str) -> None:
    docs = rendered[overlay]
    env = server_env(docs)
    fields = Settings.model_fields
    for name, value in env.items():
        if not name.startswith("POLYBRIEF_"):
            continue
        field = name.removeprefix("POLYBRIEF_").lower()
        assert field in fields, f"{name} is no setting"
        TypeAdapter(fields[field].annotation).validate_python(value)  # raises if it cannot
    # the secret files are where the settings point
    container = main_container(docs)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in server(docs)["spec"]["template"]["spec"]["volumes"]}
    for setting, key in (
        ("POLYBRIEF_TLS_CERT", "tls.crt"),
        ("POLYBRIEF_TLS_KEY", "tls.key"),
        ("POLYBRIEF_API_KEYS", "keys.toml"),
    ):
        directory, _, file = env[setting].rpartition("/")
        (volume,) = [name for name, path in mounts.items() if path == directory]
        assert "secret" in volumes[volume], setting
        assert file == key, setting
    # inference threads follow the CPUs requested, not the node's core count
    (threads,) = [e for e in container["env"] if e["name"] == "POLYBRIEF_INFERENCE_THREADS"]
    assert threads["valueFrom"]["resourceFieldRef"]["resource"] == "requests.cpu"


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_model_pull_job_fills_what_the_servers_read(
    rendered: dict[str, list[Doc]], overlay: str, tmp_path: Path
) -> None:
    docs = rendered[overlay]
    job = one(docs, "Job", "polybrief-models-pull")["spec"]["template"]["spec"]
    (pull,) = job["containers"]
    assert pull["command"] == ["polybrief-fetch-models"]
    job_env = {e["name"]: e.get("value") for e in pull["env"]}
    pod = server(docs)["spec"]["template"]["spec"]
    (wait,) = pod["initContainers"]
    wait_env = {e["name"]: e.get("value") for e in wait["env"]}
    assert job_env["READY_MARKER"] == wait_env["READY_MARKER"]
    configmap = one(docs, "ConfigMap")["data"]
    marker = tmp_path / "ready"
    waiting = {"PATH": os.environ["PATH"], "READY_MARKER": str(marker)}
    waiting["MODELS_REVISION"] = configmap["MODELS_REVISION"]

    def still_waiting_after(seconds: float) -> bool:
        """Runs the init container's command; True when it has not ended by then."""
        process = subprocess.Popen(
            wait["command"], env=waiting, stdout=subprocess.DEVNULL, start_new_session=True
        )
        try:
            return process.wait(timeout=seconds) != 0
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its sleep too
            process.wait()
            return True

    assert still_waiting_after(1)  # no marker yet
    marker.write_text("0\n")
    assert still_waiting_after(1)  # an older revision
    marker.write_text(configmap["MODELS_REVISION"] + "\n")  # what the Job writes
    assert not still_waiting_after(30)

    def models_mount(container: Doc) -> str:
        (path,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "models"]
        return path

    # the converted folders are keyed by the checkpoint's path: same mount everywhere
    assert models_mount(pull) == models_mount(main_container(docs)) == models_mount(wait)
    env = server_env(docs)
    assert env["HF_HOME"].startswith(models_mount(pull) + "/")
    assert env["POLYBRIEF_CT2_CACHE"].startswith(models_mount(pull) + "/")
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in job_env
    assert configmap["MODELS"].split()
    assert configmap["MODELS_REVISION"]
    # what "auto" means to a server there: int8 on CPU, int8_float16 on a GPU
    gpu = "nvidia.com/gpu" in main_container(docs)["resources"]["limits"]
    assert job_env["CT2_COMPUTE_TYPE"] == ("int8_float16" if gpu else "auto")
    assert gpu == (overlay == "gpu")


def test_baked_models_have_no_volume_or_job(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["baked-models"]
    assert not {d["kind"] for d in docs} & {"Job", "PersistentVolumeClaim"}
    pod = server(docs)["spec"]["template"]["spec"]
    assert "initContainers" not in pod or not pod["initContainers"]
    assert "models" not in {v["name"] for v in pod["volumes"]}
    assert main_container(docs)["image"].endswith("-models")


def test_autoscaling_reads_real_metrics(rendered: dict[str, list[Doc]]) -> None:
    from polybrief.service.observability.metrics import Metrics

    names = {metric.name for metric in Metrics().registry.collect()}
    scaled = one(rendered["cpu"], "ScaledObject")
    queried = [
        re.findall(r"\b(polybrief_[a-z_]+)", t["metadata"]["query"])
        for t in scaled["spec"]["triggers"]
    ]
    assert [q for qs in queried for q in qs] == [
        "polybrief_inflight_calls",
        "polybrief_queued_segments",
    ]
    assert all(q in names for qs in queried for q in qs), names
    gpu = one(rendered["gpu"], "ScaledObject")
    assert float(gpu["spec"]["triggers"][0]["metadata"]["threshold"]) > float(
        scaled["spec"]["triggers"][0]["metadata"]["threshold"]
    )


# the image -------------------------------------------------------------------------------


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def image_env() -> dict[str, str]:
    """The final stage's ENV (the last stage: after the last FROM)."""
    final = dockerfile().rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", final, re.MULTILINE):
        for name, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[name] = value
    return env


def test_image_is_pinned_by_digest_and_runs_unprivileged() -> None:
    text = dockerfile()
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    for stage in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        assert stage in ("${PYTHON_IMAGE}", "build"), stage  # no unpinned base anywhere
    (user,) = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) > 10000
    env = image_env()
    # the HEALTHCHECK asks the plaintext health-only port: it works with TLS on
    (health,) = re.findall(r'"--server", "127\.0\.0\.1:(\d+)"', text)
    assert health == env["POLYBRIEF_HEALTH_PORT"]
    assert env["HOME"] == "/tmp"
    assert env["HF_HOME"].startswith("/models/")


def test_image_settings_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("POLYBRIEF_"):
            monkeypatch.delenv(name)
    env = image_env()
    for name, value in env.items():
        if name.startswith("POLYBRIEF_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.host, settings.port) == ("0.0.0.0", int(env["POLYBRIEF_PORT"]))
    assert settings.health_port == int(env["POLYBRIEF_HEALTH_PORT"])


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.split(";")[0].strip().partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def build_requirements() -> set[str]:
    """What building the three wheels needs: their build-system requirements and, from
    the installed metadata, everything those require in turn (markers evaluated)."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    todo = [
        Requirement(text)
        for package in ("proto", "client", "service")
        for text in tomllib.loads((ROOT / package / "pyproject.toml").read_text())["build-system"][
            "requires"
        ]
    ]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            nested = Requirement(text)
            if nested.marker is None or nested.marker.evaluate({"extra": ""}):
                todo.append(nested)
    return seen


def test_image_build_tools_are_the_builds_requirements() -> None:
    """The wheels stage installs its build tools by name from the lock (``grep -E``):
    every build requirement of the three packages, transitively, must be in that list and
    pinned in the lock, or the image cannot build its wheels."""
    (pattern,) = re.findall(r"grep -E '\^\(([^)]*)\)=='", dockerfile())
    names = pattern.split("|")
    lock_text = (ROOT / "requirements.lock").read_text()
    unpinned = [name for name in names if not re.search(rf"^{name}==", lock_text, re.MULTILINE)]
    assert not unpinned, f"the grep finds no {unpinned} in the lock (spelt as there?)"
    grepped = {re.sub(r"[-_.]+", "-", name).lower() for name in names}
    needed = build_requirements()
    assert {"hatchling", "grpcio-tools"} <= needed
    assert not needed - grepped, f"the wheels stage would install {needed - grepped} unpinned"


def test_image_install_resolves_to_the_lock(tmp_path: Path) -> None:
    """The build stage's `pip install -c requirements.lock /wheels/*.whl`, replayed: the
    three wheels built as the wheels stage builds them (from a copy of the sources), then
    resolved by pip (--dry-run, into nothing) with the lock as constraints. Every package
    it would install is the locked version; nothing unlocked comes in."""
    sources = tmp_path / "src"
    for package in ("proto", "client", "service"):
        shutil.copytree(
            ROOT / package,
            sources / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*_pb2*.py*", "build"),
        )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
        + [str(sources / p) for p in ("proto", "client", "service")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    report = tmp_path / "report.json"
    resolved = subprocess.run(
        [
            *pip,
            *("install", "-q", "--dry-run", "--ignore-installed", "--report", str(report)),
            *("-c", str(ROOT / "requirements.lock")),
            *map(str, sorted(wheels.glob("*.whl"))),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if resolved.returncode != 0 and "No matching distribution" in resolved.stderr:
        pytest.skip(f"no package index reachable to resolve against: {resolved.stderr[-500:]}")
    assert resolved.returncode == 0, resolved.stderr[-3000:]
    pins = lock()
    installed = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    ours = {"polybrief-proto", "polybrief-client", "polybrief-service"}
    assert ours <= set(installed)
    drift = {
        name: (version, pins.get(name))
        for name, version in installed.items()
        if name not in ours and version.split("+")[0] != pins.get(name)
    }
    assert not drift, f"resolved outside the lock: {drift}"
    assert {"torch", "grpcio", "transformers", "ctranslate2"} <= set(installed)
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(installed)  # runtime only


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``: (size, mtime in ns), to tell what was written."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in [root, *root.rglob("*")]
    }


def test_model_job_then_a_read_only_server(tiny_dir: Path, tmp_path: Path) -> None:
    """The pod's life on one machine: deploy/polybrief-fetch-models (the Job's command)
    pulls a tiny Marian model from a stand-in hub (tests/hub_standin.py) into
    /models-like caches, converts it for CTranslate2 and writes the marker; a server then
    starts offline on those caches, as the pods do (HF_HUB_OFFLINE=1, the same paths),
    uses the conversion the Job made, serves a translation, and writes nothing under the
    models folder: it can be mounted read-only. (Permission bits prove nothing to root,
    who runs CI, so the check is that nothing there changed.)"""
    from hub_standin import HubStandin
    from test_shutdown import SERVER, free_port

    repo = tmp_path / "repos" / "tiny-marian-en-fr"
    shutil.copytree(tiny_dir / "tiny-marian-en-fr", repo)
    catalog = subset_catalog(tiny_dir, tmp_path / "catalog.toml", ["tiny-marian-en-fr"])
    catalog.write_text(
        catalog.read_text().replace(
            f'source = "{tiny_dir}/tiny-marian-en-fr"',
            'source = "polybrief-test/tiny-marian-en-fr"\nbackend = "ctranslate2"',
        )
    )
    models = tmp_path / "models"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POLYBRIEF_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        GRPC_VERBOSITY="NONE",
        POLYBRIEF_CATALOG=str(catalog),
        HF_HOME=str(models / "hf"),
        POLYBRIEF_CT2_CACHE=str(models / "ctranslate2"),
    )
    job_env = env | {
        "READY_MARKER": str(models / ".polybrief-models-ready"),
        "MODELS": "tiny-marian-en-fr",
        "MODELS_REVISION": "7",
    }
    with HubStandin({"polybrief-test/tiny-marian-en-fr": repo}) as hub:
        done = subprocess.run(
            ["sh", str(ROOT / "deploy" / "polybrief-fetch-models")],
            env=job_env | {"HF_ENDPOINT": hub.endpoint},
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (models / ".polybrief-models-ready").read_text() == "7\n"
    (converted,) = (models / "ctranslate2").iterdir()
    assert (converted / "model.bin").is_file()
    before = tree(models)

    from polybrief import client as pc

    port = free_port()
    log = tmp_path / "server.log"
    command = [*SERVER, "serve", f"--port={port}", "--inference-threads=1", "--no-preload"]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, env=env | {"HF_HUB_OFFLINE": "1"}, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        with pc.Client(f"127.0.0.1:{port}", timeout=120) as client:
            client.wait_until_serving(300)
            (result,) = client.translate("The navy sailed at dawn.", to="fr", source="en")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.error is None, (result.error, log.read_text()[-3000:])
    assert [step.model for step in result.route.steps] == ["tiny-marian-en-fr"]
    assert tree(models) == before, "the server wrote under the models volume"
