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
