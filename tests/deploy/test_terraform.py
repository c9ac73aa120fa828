"""The Terraform module's wiring, checked on the parsed HCL (no terraform binary needed)."""
import re

from conftest import attr, blocks, code_without_comments, strip


def test_versions_pinned(module):
    tf = module.files["versions.tf"]["terraform"][0]
    (rp,) = blocks(tf, "required_providers")
    google = attr(rp, "google")
    assert attr(google, "source") == "hashicorp/google"


def test_variables_have_description_and_type(module):
    assert {"project_id", "region", "service_name", "log_filter", "image", "github_repo",
            "alertmanager_urls"} <= set(module.variables)
    for name, body in module.variables.items():
        assert attr(body, "description"), f"variable {name} has no description"
        assert attr(body, "type"), f"variable {name} has no type"
    for name in ["project_id", "region", "service_name", "github_repo", "alertmanager_urls"]:
        assert blocks(module.variables[name], "validation"), f"variable {name}: no validation"


def test_every_variable_is_used(module, example):
    for mod in (module, example):
        code = code_without_comments(mod.text)
        for name in mod.variables:
            assert re.search(rf"\bvar\.{name}\b", code), f"{mod.path.name}: var.{name} unused"


def test_every_output_refers_to_a_defined_resource(module, example):
    for name, body in module.outputs.items():
        assert attr(body, "description"), f"output {name}: no description"
        refs = re.findall(r"\b(google_[a-z0-9_]+)\.([a-z0-9_]+)(?:\[[^\]]*\])?\.",
                          str(attr(body, "value")))
        assert refs, f"output {name} refers to no resource"
        for rtype, rname in refs:
            assert (rtype, rname) in module.resources, f"output {name}: {rtype}.{rname} undefined"
    for name in ["topic", "subscription", "service_account_email", "service_url",
                 "github_token_secret_id"]:
        assert name in module.outputs
    for name, body in example.outputs.items():
        m = re.search(r"module\.log_gardener\.([a-z0-9_]+)", str(attr(body, "value")))
        assert m and m.group(1) in module.outputs, f"example output {name}"


def test_default_log_filter_is_the_services_warnings(module):
    assert attr(module.variables["log_filter"], "default") == ""
    f = module.locals["log_filter"]
    assert 'resource.type=\\"cloud_run_revision\\"' in f or 'resource.type="cloud_run_revision"' in f
    assert "resource.labels.service_name" in f and "${var.service_name}" in f
    assert "severity>=WARNING" in f


def test_sink_publishes_to_the_topic(module):
    sink = module.res("google_logging_project_sink", "entries")
    assert attr(sink, "unique_writer_identity") is True
    assert attr(sink, "destination") == "pubsub.googleapis.com/${google_pubsub_topic.entries.id}"
    assert attr(sink, "filter") == "${local.log_filter}"
    pub = module.res("google_pubsub_topic_iam_member", "sink_publisher")
    assert "google_pubsub_topic.entries" in attr(pub, "topic")
    assert attr(pub, "role") == "roles/pubsub.publisher"
    assert attr(pub, "member") == "${google_logging_project_sink.entries.writer_identity}"


def test_subscription_with_dead_letter_and_retry(module):
    sub = module.res("google_pubsub_subscription", "gardener")
    assert attr(sub, "topic") == "${google_pubsub_topic.entries.id}"
    assert attr(sub, "ack_deadline_seconds")
    assert attr(sub, "message_retention_duration")
    assert attr(sub, "enable_exactly_once_delivery") == "${var.exactly_once_delivery}"
    assert attr(module.variables["exactly_once_delivery"], "default") is True
    (dlp,) = blocks(sub, "dead_letter_policy")
    assert attr(dlp, "dead_letter_topic") == "${google_pubsub_topic.dead_letter.id}"
    assert attr(dlp, "max_delivery_attempts")
    (retry,) = blocks(sub, "retry_policy")
    assert attr(retry, "minimum_backoff") and attr(retry, "maximum_backoff")
    (exp,) = blocks(sub, "expiration_policy")
    assert attr(exp, "ttl") == ""
    module.res("google_pubsub_topic", "dead_letter")


def test_pubsub_service_agent_bindings(module):
    agent = module.locals["pubsub_service_agent"]
    assert agent == ("serviceAccount:service-${data.google_project.this.number}"
                     "@gcp-sa-pubsub.iam.gserviceaccount.com")
    assert ("google_project", "this") in module.data
    dl = module.res("google_pubsub_topic_iam_member", "service_agent_dead_letter_publisher")
    assert "google_pubsub_topic.dead_letter" in attr(dl, "topic")
    assert attr(dl, "role") == "roles/pubsub.publisher"
    assert attr(dl, "member") == "${local.pubsub_service_agent}"
    sb = module.res("google_pubsub_subscription_iam_member", "service_agent_subscriber")
    assert "google_pubsub_subscription.gardener" in attr(sb, "subscription")
    assert attr(sb, "role") == "roles/pubsub.subscriber"
    assert attr(sb, "member") == "${local.pubsub_service_agent}"


def test_service_account_subscribes(module):
    module.res("google_service_account", "gardener")
    b = module.res("google_pubsub_subscription_iam_member", "gardener_subscriber")
    assert "google_pubsub_subscription.gardener" in attr(b, "subscription")
    assert attr(b, "role") == "roles/pubsub.subscriber"
    assert "google_service_account.gardener" in attr(b, "member")


def test_github_token_secret_and_accessor(module):
    module.res("google_secret_manager_secret", "github_token")
    b = module.res("google_secret_manager_secret_iam_member", "gardener_token_accessor")
    assert "google_secret_manager_secret.github_token" in attr(b, "secret_id")
    assert attr(b, "role") == "roles/secretmanager.secretAccessor"
    assert "google_service_account.gardener" in attr(b, "member")


def _containers(module):
    svc = module.res("google_cloud_run_v2_service", "gardener")
    (tpl,) = blocks(svc, "template")
    return svc, tpl, {attr(c, "name"): c for c in blocks(tpl, "containers")}


def _env(container):
    """Static env blocks and dynamic ones (name -> block)."""
    env = {attr(e, "name"): e for e in blocks(container, "env")}
    for d in blocks(container, "dynamic"):
        for label, dyn in d.items():
            if strip(label) != "env":
                continue
            for content in blocks(dyn, "content"):
                env[(attr(dyn, "for_each"), attr(content, "name"))] = content
    return env


def test_cloud_run_one_always_on_instance(module):
    svc, tpl, containers = _containers(module)
    assert attr(tpl, "service_account") == "${google_service_account.gardener.email}"
    (scaling,) = blocks(tpl, "scaling")
    assert attr(scaling, "min_instance_count") == "${var.replicas}"
    assert attr(scaling, "max_instance_count") == "${var.replicas}"
    assert attr(module.variables["replicas"], "default") == 1
    gardener = containers["gardener"]
    assert attr(gardener, "image") == "${var.image}"
    (res,) = blocks(gardener, "resources")
    assert attr(res, "cpu_idle") is False


def test_cloud_run_config_and_token(module):
    _, _, containers = _containers(module)
    env = _env(containers["gardener"])
    token = [b for k, b in env.items() if "GITHUB_TOKEN" in str(k)]
    assert token, "no GITHUB_TOKEN env"
    (vs,) = blocks(token[0], "value_source")
    (ref,) = blocks(vs, "secret_key_ref")
    assert attr(ref, "secret") == "${google_secret_manager_secret.github_token.secret_id}"
    cfg = module.locals["env"]
    for key in ["LOG_GARDENER__PUBSUB__PROJECT", "LOG_GARDENER__PUBSUB__SUBSCRIPTION",
                "LOG_GARDENER__METRICS__LISTEN", "LOG_GARDENER__ALERTS__ALERTMANAGER_URLS",
                "LOG_GARDENER__GITHUB__REPO"]:
        assert key in cfg, key
    assert "0.0.0.0:${local.metrics_port}" in cfg
    assert module.locals["metrics_port"] == 9464


def test_cloud_run_probes_on_9464(module):
    _, _, containers = _containers(module)
    g = containers["gardener"]
    (ports,) = blocks(g, "ports")
    assert attr(ports, "container_port") == "${local.metrics_port}"
    for probe, path in [("startup_probe", "/readyz"), ("liveness_probe", "/healthz")]:
        (p,) = blocks(g, probe)
        (http,) = blocks(p, "http_get")
        assert attr(http, "path") == path
        assert attr(http, "port") == "${local.metrics_port}"


def test_cloud_run_prometheus_sidecar(module):
    _, tpl, containers = _containers(module)
    assert set(containers) == {"gardener", "collector"}
    c = containers["collector"]
    assert "cloud-run-gmp-sidecar" in attr(module.variables["collector_image"], "default")
    assert attr(c, "image") == "${var.collector_image}"
    deps = c.get("depends_on")
    assert "gardener" in str(deps)
    (mount,) = blocks(c, "volume_mounts")
    assert attr(mount, "mount_path") == "/etc/rungmp"
    cfg = module.locals["rungmp_config"]
    assert "RunMonitoring" in cfg and "/metrics" in cfg and "local.metrics_port" in cfg
    vols = {attr(v, "name"): v for v in blocks(tpl, "volumes")}
    (secret,) = blocks(vols["rungmp-config"], "secret")
    assert "google_secret_manager_secret.rungmp_config" in attr(secret, "secret")
    assert ("google_project_iam_member", "gardener_project_roles") in module.resources
    assert "roles/monitoring.metricWriter" in module.text


def test_example_uses_the_module(example):
    mod = example.modules["log_gardener"]
    assert attr(mod, "source") == "../../terraform"
    for k in ["project_id", "service_name", "image"]:
        assert k in mod
    tfvars = (example.path / "terraform.tfvars.example").read_text()
    for k in ["project_id", "service_name", "image"]:
        assert re.search(rf"^{k}\s*=", tfvars, re.M), k


# ---- issue 15: a fresh project, defaults that start, limits that match GCP -------------------

import tomllib

import pytest

import tf_env

ENV_CASES = {c: tf_env.evaluate(tf_env.case_variables(c)) for c in ("defaults", "example", "full")}


def test_provider_constraint_stays_on_6(module):
    tf = module.files["versions.tf"]["terraform"][0]
    (rp,) = blocks(tf, "required_providers")
    assert attr(attr(rp, "google"), "version") == ">= 6.11, < 7"
    assert attr(tf, "required_version") == ">= 1.9", "cross-variable validations need 1.9"
    ex = module.__class__(module.path.parent / "examples" / "basic")
    (ex_rp,) = blocks(ex.files["main.tf"]["terraform"][0], "required_providers")
    assert attr(attr(ex_rp, "google"), "version") == ">= 6.11, < 7"


def test_every_api_is_enabled_before_it_is_used(module):
    apis = module.res("google_project_service", "apis")
    enabled = str(attr(apis, "for_each"))
    for api in ["cloudresourcemanager", "iam", "logging", "monitoring", "pubsub",
                "secretmanager", "run"]:
        assert f"{api}.googleapis.com" in enabled, api
    # Resources whose first call needs an API and that reach no other resource that waits.
    for body in [module.data[("google_project", "this")],
                 module.res("google_service_account", "gardener"),
                 module.res("google_pubsub_topic", "entries"),
                 module.res("google_pubsub_topic", "dead_letter"),
                 module.res("google_secret_manager_secret", "github_token"),
                 module.res("google_cloud_run_v2_service", "gardener")]:
        assert "google_project_service.apis" in str(body.get("depends_on")), body


def test_defaults_leave_empty_settings_out_of_the_environment():
    env = {e["name"]: e["value"] for e in ENV_CASES["defaults"]["env"]}
    assert all(v != "" for v in env.values()), env
    assert "LOG_GARDENER__ALERTS__ALERTMANAGER_URLS" not in env
    assert "LOG_GARDENER__GITHUB__REPO" not in env
    assert ENV_CASES["defaults"]["secrets"] == [], "no token without a repository"
    assert env["LOG_GARDENER__PUBSUB__SUBSCRIPTION"] == "log-gardener"
    assert env["LOG_GARDENER__METRICS__LISTEN"] == "0.0.0.0:9464"
    mount = ENV_CASES["defaults"]["mounts"]["state"]
    assert env["LOG_GARDENER__LIVE__CHECKPOINT"].startswith(mount + "/")
    assert env["LOG_GARDENER__REPORT__DIR"].startswith(mount + "/")


def test_lists_and_secrets_reach_the_environment():
    example = {e["name"]: e["value"] for e in ENV_CASES["example"]["env"]}
    assert example["LOG_GARDENER__ALERTS__ALERTMANAGER_URLS"] == \
        "http://alertmanager.internal.example:9093"
    full = ENV_CASES["full"]
    env = {e["name"]: e["value"] for e in full["env"]}
    assert env["LOG_GARDENER__ALERTS__ALERTMANAGER_URLS"] == \
        "http://am-0.example:9093,http://am-1.example:9093"
    assert env["LOG_GARDENER__WINDOW__HOP"] == "15m"
    assert "LOG_GARDENER__GITHUB__LABEL" not in env, "an empty extra_env value is left out"
    assert env["LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_BYTES"] == str(64 << 20)
    assert full["secrets"] == [{"name": "GITHUB_TOKEN", "version": "latest",
                                "secret": "google_secret_manager_secret.github_token.secret_id"}]


def test_every_environment_key_is_a_configuration_key():
    cfg = tomllib.loads((tf_env.ROOT / "config" / "default.toml").read_text())
    for case in ENV_CASES.values():
        for e in case["env"]:
            section, key = e["name"].removeprefix("LOG_GARDENER__").lower().split("__", 1)
            assert key in cfg.get(section, {}), e["name"]


def test_the_subscription_and_the_environment_share_one_id(module):
    sub = module.res("google_pubsub_subscription", "gardener")
    assert attr(sub, "name") == "${local.subscription_id}"
    assert re.search(r"LOG_GARDENER__PUBSUB__SUBSCRIPTION\s*=\s*local\.subscription_id\n",
                     module.text)


def _accepts(**overrides):
    try:
        tf_env.evaluate({**tf_env.case_variables("defaults"), **overrides})
        return True
    except tf_env.TerraformError:
        return False


@pytest.mark.parametrize("overrides", [
    dict(name="abcdef"), dict(name="a" * 30), dict(region="europe-west10"),
    dict(region="northamerica-northeast2"), dict(service_name="a" * 49),
    dict(cpu="2", memory="8Gi"), dict(cpu="4", memory="2Gi"),
    dict(message_retention_duration="600s"), dict(message_retention_duration="2678400s"),
    dict(ack_deadline_seconds=600), dict(memory="584Mi"),
    dict(memory="1Gi", pubsub_streams=4, pubsub_max_outstanding_mib=150),
    dict(redis_enabled=True, replicas=3), dict(redis_enabled=True, redis_tier="BASIC"),
])
def test_validations_accept_what_gcp_accepts(overrides):
    assert _accepts(**overrides), overrides


@pytest.mark.parametrize("overrides", [
    dict(name="abcde"), dict(name="log-"), dict(name="log-gardener-"), dict(name="a" * 31),
    dict(name="Log-gardener"), dict(region="us-central"), dict(service_name="a" * 50),
    dict(service_name="svc-"), dict(cpu="0.5"), dict(cpu="3"), dict(cpu="1", memory="5Gi"),
    dict(cpu="4", memory="1Gi"), dict(memory="1G"),
    dict(message_retention_duration="599s"), dict(message_retention_duration="2678401s"),
    dict(message_retention_duration="7d"), dict(ack_deadline_seconds=9),
    dict(ack_deadline_seconds=601), dict(ack_deadline_seconds=10.5),
    dict(max_delivery_attempts=4), dict(alertmanager_urls=[""]),
    dict(alertmanager_urls=["http://a:1,http://b:2"]),
    dict(extra_env={"LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_BYTES": "1"}),
    dict(extra_env={"WINDOW__HOP": "15m"}), dict(labels={"Team": "x"}),
    dict(replicas=2), dict(redis_enabled=True, replicas=6), dict(redis_enabled=True, replicas=1.5),
    dict(redis_enabled=True, redis_tier="STANDARD"), dict(redis_enabled=True, redis_memory_gb=0),
])
def test_validations_refuse_what_gcp_or_the_binary_refuses(overrides):
    assert not _accepts(**overrides), overrides


def test_the_memory_budget_adds_up(module):
    # Defaults: 128 MiB volume + 2 × 100 MiB outstanding + 256 MiB process ≤ 1 GiB.
    assert attr(module.variables["memory"], "default") == "1Gi"
    assert _accepts(memory="584Mi") and not _accepts(memory="583Mi")
    assert not _accepts(state_volume_mib=600)
    assert not _accepts(pubsub_streams=4, pubsub_max_outstanding_mib=200)
    assert not _accepts(process_memory_mib=1024)
    _, tpl, _ = _containers(module)
    assert "memory budget" in module.files_text("variables.tf")


def test_state_survives_restarts_in_a_private_versioned_bucket(module):
    bucket = module.res("google_storage_bucket", "state")
    assert "local.cloud_run ? 1 : 0" in str(bucket.get("count"))
    assert attr(bucket, "uniform_bucket_level_access") is True
    assert attr(bucket, "public_access_prevention") == "enforced"
    assert attr(bucket, "force_destroy") is False
    (versioning,) = blocks(bucket, "versioning")
    assert attr(versioning, "enabled") is True
    (rule,) = blocks(bucket, "lifecycle_rule")
    assert attr(blocks(rule, "condition")[0], "days_since_noncurrent_time") > 0
    iam = module.res("google_storage_bucket_iam_member", "gardener_state")
    assert attr(iam, "role") == "roles/storage.objectUser"
    assert attr(iam, "member") == "${google_service_account.gardener.member}"
    apis = str(attr(module.res("google_project_service", "apis"), "for_each"))
    assert "storage.googleapis.com" in apis
    # The bucket is the volume below the checkpoint and the worklogs.
    _, tpl, containers = _containers(module)
    vols = {attr(v, "name"): v for v in blocks(tpl, "volumes")}
    (gcs,) = blocks(vols["state"], "gcs")
    assert attr(gcs, "bucket") == "${google_storage_bucket.state[0].name}"
    assert attr(gcs, "read_only") is False
    (mount,) = [m for m in blocks(containers["gardener"], "volume_mounts")
                if attr(m, "name") == "state"]
    state_dir = module.locals["state_dir"]
    assert attr(mount, "mount_path") == "${local.state_dir}"
    env = {e["name"]: e["value"] for e in ENV_CASES["defaults"]["env"]}
    assert env["LOG_GARDENER__LIVE__CHECKPOINT"].startswith(state_dir + "/")
    assert env["LOG_GARDENER__REPORT__DIR"].startswith(state_dir + "/")
    # Each checkpoint is an upload: not every 2 s; with Redis the checkpoint is not a file.
    assert env["LOG_GARDENER__LIVE__CHECKPOINT_EVERY"] == "10s"
    with_redis = tf_env.evaluate({**tf_env.case_variables("defaults"), "redis_enabled": True})
    assert "LOG_GARDENER__LIVE__CHECKPOINT_EVERY" not in {e["name"] for e in with_redis["env"]}
    # Relayed message ids are remembered as long as the subscription keeps a message.
    redis_env = {e["name"]: e["value"] for e in with_redis["env"]}
    assert redis_env["LOG_GARDENER__STATE__DEDUPE_TTL"] == \
        attr(module.variables["message_retention_duration"], "default")
    assert "LOG_GARDENER__STATE__DEDUPE_TTL" not in env


def test_gke_gets_workload_identity_instead_of_cloud_run(module):
    wi = module.res("google_service_account_iam_member", "gke_workload_identity")
    assert attr(wi, "role") == "roles/iam.workloadIdentityUser"
    assert attr(wi, "member") == "${local.gke_member}"
    assert "google_service_account.gardener" in attr(wi, "service_account_id")
    assert module.locals["gke_member"] == \
        "serviceAccount:${local.gke_pool}[${var.gke_kubernetes_service_account}]"
    assert attr(module.variables["gke_kubernetes_service_account"], "default") == \
        "log-gardener/log-gardener", "the namespace and name of deploy/k8s/serviceaccount.yaml"
    for rtype, name in [("google_cloud_run_v2_service", "gardener"),
                        ("google_secret_manager_secret", "rungmp_config")]:
        assert "local.cloud_run ? 1 : 0" in str(module.res(rtype, name).get("count"))
    assert "local.cloud_run ? 0 : 1" in str(wi.get("count"))


def test_redis_state_is_persistent_private_and_reaches_run_as_a_secret(module):
    redis = module.res("google_redis_instance", "state")
    assert "var.redis_enabled ? 1 : 0" in str(redis.get("count"))
    assert attr(redis, "auth_enabled") is True
    assert attr(redis, "authorized_network") == "${var.network}"
    (persistence,) = blocks(redis, "persistence_config")
    assert attr(persistence, "persistence_mode") == "RDB"
    # Only keys with a TTL (relayed message ids) may be evicted, never the stream or checkpoint.
    configs = {k.strip('"'): v.strip('"') for k, v in attr(redis, "redis_configs").items()}
    assert configs == {"maxmemory-policy": "volatile-lru"}
    version = module.res("google_secret_manager_secret_version", "redis_url")
    url = attr(version, "secret_data")
    assert url.startswith("redis://:${google_redis_instance.state[0].auth_string}@"), url
    _, tpl, containers = _containers(module)
    (vpc,) = [b for b in blocks(tpl, "dynamic") if "vpc_access" in str(list(b))]
    assert "var.redis_enabled" in str(vpc)
    env = str(blocks(containers["gardener"], "dynamic"))
    assert "LOG_GARDENER__STATE__REDIS_URL" in env and "redis_url[0].secret_id" in env
    apis = str(attr(module.res("google_project_service", "apis"), "for_each"))
    assert "redis.googleapis.com" in apis
