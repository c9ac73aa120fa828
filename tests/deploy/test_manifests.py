"""deploy/k8s and deploy/cloudrun manifests parse and have the essentials."""
import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_all(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def k8s():
    docs = {}
    for f in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for d in load_all(f):
            docs[(d["kind"], d["metadata"]["name"])] = d
    return docs


def test_k8s_deployment():
    d = k8s()[("Deployment", "log-gardener")]
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 15
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (c,) = [c for c in pod["containers"] if c["name"] == "gardener"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == 9464
    (tok,) = [e for e in c["env"] if e["name"] == "GITHUB_TOKEN"]
    assert tok["valueFrom"]["secretKeyRef"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in vols["state"] or "persistentVolumeClaim" in vols["state"]
    assert vols["config"]["configMap"]["name"] == "log-gardener"
    assert c["args"][-1].startswith(mounts["config"])


def test_k8s_configmap_is_toml_with_the_essentials():
    import tomllib

    cm = k8s()[("ConfigMap", "log-gardener")]
    cfg = tomllib.loads(cm["data"]["log-gardener.toml"])
    assert cfg["pubsub"]["subscription"]
    assert cfg["metrics"]["listen"] == "0.0.0.0:9464"
    assert cfg["live"]["checkpoint"].startswith("/var/lib/log-gardener/")
    assert cfg["report"]["dir"].startswith("/var/lib/log-gardener/")
    assert isinstance(cfg["alerts"]["alertmanager_urls"], list)


def test_k8s_service_podmonitoring_no_secret_committed():
    docs = k8s()
    svc = docs[("Service", "log-gardener")]
    assert svc["spec"]["ports"][0]["port"] == 9464
    pm = docs[("PodMonitoring", "log-gardener")]
    assert pm["apiVersion"] == "monitoring.googleapis.com/v1"
    assert pm["spec"]["endpoints"][0]["port"] == "metrics"
    assert pm["spec"]["selector"]["matchLabels"] == \
        docs[("Deployment", "log-gardener")]["spec"]["selector"]["matchLabels"]
    assert not [k for k in docs if k[0] == "Secret"], "the Secret must not be committed"


def test_cloudrun_service_yaml():
    (svc,) = load_all(ROOT / "deploy" / "cloudrun" / "service.yaml")
    assert svc["apiVersion"] == "serving.knative.dev/v1"
    meta = svc["spec"]["template"]["metadata"]["annotations"]
    assert meta["autoscaling.knative.dev/minScale"] == "1"
    assert meta["autoscaling.knative.dev/maxScale"] == "1"
    assert meta["run.googleapis.com/cpu-throttling"] == "false"
    containers = {c["name"]: c for c in svc["spec"]["template"]["spec"]["containers"]}
    g = containers["gardener"]
    assert g["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 9464}
    assert g["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9464}
    assert g["resources"]["limits"]
    env = {e["name"]: e for e in g["env"]}
    assert env["LOG_GARDENER__METRICS__LISTEN"]["value"] == "0.0.0.0:9464"
    assert env["GITHUB_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert "cloud-run-gmp-sidecar" in containers["collector"]["image"]


def test_dockerfile():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "FROM rust:1-bookworm AS build" in text
    assert "FROM debian:bookworm-slim" in text
    assert "ca-certificates" in text
    assert "USER 10001" in text
    assert "EXPOSE 9464" in text
    assert "config/default.toml" in text


def test_alertmanager_example_referenced():
    assert (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").exists()
    text = (ROOT / "deploy" / "k8s" / "configmap.yaml").read_text()
    assert "deploy/alertmanager/alertmanager.yml" in text


# Placeholders a user replaces; every one used in a file must be named in its header comment.
PLACEHOLDERS = ["PROJECT", "REGION", "IMAGE", "OWNER/REPO", "CLUSTER_PROJECT"]


def _header_and_body(path):
    lines = path.read_text().splitlines()
    n = next(i for i, l in enumerate(lines) if l and not l.startswith("#"))
    return "\n".join(lines[:n]), "\n".join(l.split(" #")[0] for l in lines[n:]
                                           if not l.lstrip().startswith("#"))


def test_every_placeholder_is_named_in_the_files_header():
    import re

    files = sorted((ROOT / "deploy" / "k8s").glob("*.yaml")) + [
        ROOT / "deploy" / "cloudrun" / "service.yaml"]
    for f in files:
        header, body = _header_and_body(f)
        used = [p for p in PLACEHOLDERS if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", body)]
        named = re.search(r"Placeholders:(.*?)(?:\n#?\s*\n|\Z|\n# [A-Z][a-z])", header, re.S)
        for p in used:
            assert named and p in named.group(1), f"{f.name}: {p} is not named in the header"
        assert "owner/name" not in body, f"{f.name}: unexplained placeholder"


def test_workload_identity_binding_is_spelled_out():
    sa = (ROOT / "deploy" / "k8s" / "serviceaccount.yaml").read_text()
    assert "roles/iam.workloadIdentityUser" in sa
    assert "serviceAccount:PROJECT.svc.id.goog[log-gardener/log-gardener]" in sa
    assert 'platform = "gke"' in sa
    (doc,) = load_all(ROOT / "deploy" / "k8s" / "serviceaccount.yaml")
    assert (doc["metadata"]["namespace"], doc["metadata"]["name"]) == \
        ("log-gardener", "log-gardener"), "the member named in the binding"


def test_cloud_run_yaml_budget_and_secret_versions():
    (svc,) = load_all(ROOT / "deploy" / "cloudrun" / "service.yaml")
    spec = svc["spec"]["template"]["spec"]
    g = {c["name"]: c for c in spec["containers"]}["gardener"]
    env = {e["name"]: e.get("value") for e in g["env"]}
    mib = lambda s: int(s[:-2]) * (1024 if s.endswith("Gi") else 1)
    state = {v["name"]: v for v in spec["volumes"]}["state"]["emptyDir"]
    budget = (mib(state["sizeLimit"]) + int(env["LOG_GARDENER__PUBSUB__STREAMS"])
              * int(env["LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_BYTES"]) // 2**20 + 256)
    assert mib(g["resources"]["limits"]["memory"]) >= budget
    text = (ROOT / "deploy" / "cloudrun" / "service.yaml").read_text()
    assert "gcloud secrets versions add log-gardener-github-token" in text


def test_k8s_memory_holds_the_outstanding_messages():
    import tomllib

    cfg = tomllib.loads(k8s()[("ConfigMap", "log-gardener")]["data"]["log-gardener.toml"])
    pod = k8s()[("Deployment", "log-gardener")]["spec"]["template"]["spec"]
    (c,) = [c for c in pod["containers"] if c["name"] == "gardener"]
    limit = c["resources"]["limits"]["memory"]
    mib = int(limit[:-2]) * (1024 if limit.endswith("Gi") else 1)
    outstanding = cfg["pubsub"]["streams"] * cfg["pubsub"]["max_outstanding_bytes"] // 2**20
    assert mib >= outstanding + 256


def test_images_are_built_for_linux_amd64():
    assert "docker build --platform linux/amd64" in (ROOT / "deploy" / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    builds = [l for l in readme.splitlines() if "docker build" in l]
    assert builds and all("--platform linux/amd64" in l for l in builds), builds
