"""The Terraform module's wiring, checked on the parsed HCL (no terraform binary needed)."""
import re

from conftest import attr, blocks, code_without_comments, strip


def test_versions_pinned(module):
    tf = module.files["versions.tf"]["terraform"][0]
    assert ">= 1.5" in attr(tf, "required_version")
    (rp,) = blocks(tf, "required_providers")
    google = attr(rp, "google")
    assert attr(google, "source") == "hashicorp/google"
    assert attr(google, "version").startswith("~> 6.")


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
        refs = re.findall(r"\b(google_[a-z0-9_]+)\.([a-z0-9_]+)\.", str(attr(body, "value")))
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
    assert attr(scaling, "min_instance_count") == 1
    assert attr(scaling, "max_instance_count") == 1
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
