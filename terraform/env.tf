# The configuration of `log-gardener run` as environment variables (LOG_GARDENER__SECTION__KEY,
# every key in config/default.toml). This file holds only locals computed from variables:
# tests/deploy/tf_env.py evaluates it with Terraform, and the binary is tested with exactly the
# environment the Cloud Run container gets (tests/deploy_env.rs).

locals {
  metrics_port = 9464

  # The state volume (the Cloud Storage bucket on Cloud Run): the checkpoint and the worklogs
  # live below it.
  state_dir = "/var/lib/log-gardener"

  # The subscription's id; the env below and google_pubsub_subscription.gardener share it.
  subscription_id = var.name

  # Empty optional settings are left out: the binary then keeps its built-in default (an
  # empty list variable would also read as an empty list, but nothing is set for nothing).
  env = { for k, v in merge({
    LOG_GARDENER__PUBSUB__PROJECT               = var.project_id
    LOG_GARDENER__PUBSUB__SUBSCRIPTION          = local.subscription_id
    LOG_GARDENER__PUBSUB__STREAMS               = tostring(var.pubsub_streams)
    LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_BYTES = tostring(var.pubsub_max_outstanding_mib * 1048576)
    LOG_GARDENER__METRICS__LISTEN               = "0.0.0.0:${local.metrics_port}"
    LOG_GARDENER__LIVE__CHECKPOINT              = "${local.state_dir}/state/checkpoint.json"
    LOG_GARDENER__REPORT__DIR                   = "${local.state_dir}/worklogs"
    # On Cloud Run without Redis each checkpoint is an upload to the state bucket (and the one
    # before it a copy): every 10 s rather than 2 s. Acks wait for it, well inside the
    # subscription's ack deadline.
    LOG_GARDENER__LIVE__CHECKPOINT_EVERY = var.platform == "cloud-run" && !var.redis_enabled ? "10s" : ""
    # Replicas remember a relayed message id as long as the subscription keeps a message.
    LOG_GARDENER__STATE__DEDUPE_TTL         = var.redis_enabled ? var.message_retention_duration : ""
    LOG_GARDENER__GITHUB__REPO              = var.github_repo
    LOG_GARDENER__GITHUB__LOGGING_PROJECT   = var.project_id
    LOG_GARDENER__ALERTS__ALERTMANAGER_URLS = join(",", var.alertmanager_urls)
    LOG_GARDENER__ALERTS__MIN_PRIORITY      = var.alerts_min_priority
    LOG_GARDENER__ALERTS__LOGGING_PROJECT   = var.project_id
  }, var.extra_env) : k => v if v != "" }
}
