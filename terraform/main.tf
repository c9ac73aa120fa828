# log-gardener on Google Cloud: Log Router sink -> Pub/Sub topic -> subscription (with a
# dead-letter topic) -> one always-on Cloud Run instance running `log-gardener run`, with the
# Managed Service for Prometheus sidecar scraping its /metrics. With platform = "gke" the same
# minus Cloud Run, plus the Workload Identity binding deploy/k8s/ needs.
# The container's environment is in env.tf.

# Read at apply time on a fresh project: Cloud Resource Manager must be enabled first.
data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.apis]
}

locals {
  log_filter = var.log_filter != "" ? var.log_filter : "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.service_name}\" AND severity>=WARNING"

  # The Pub/Sub service agent forwards undeliverable messages to the dead-letter topic.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  labels = merge({ app = "log-gardener", watched-service = var.service_name }, var.labels)

  cloud_run = var.platform == "cloud-run"

  # GKE Workload Identity: the Kubernetes service account of deploy/k8s/ in the cluster's pool.
  gke_pool   = "${var.gke_cluster_project_id != "" ? var.gke_cluster_project_id : var.project_id}.svc.id.goog"
  gke_member = "serviceAccount:${local.gke_pool}[${var.gke_kubernetes_service_account}]"

  # RunMonitoring config of the Managed Prometheus sidecar (mounted at /etc/rungmp/config.yaml).
  rungmp_config = yamlencode({
    apiVersion = "monitoring.googleapis.com/v1beta"
    kind       = "RunMonitoring"
    metadata   = { name = var.name }
    spec = {
      endpoints = [{ port = local.metrics_port, path = "/metrics", interval = "30s" }]
    }
  })
}

# Every API the module calls. A new project has neither IAM nor Cloud Resource Manager (the
# project lookup, project IAM); Service Usage itself, which enables these, is on by default.
resource "google_project_service" "apis" {
  for_each = toset(concat([
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "secretmanager.googleapis.com",
    ], local.cloud_run ? ["run.googleapis.com", "storage.googleapis.com"] : [],
  var.redis_enabled ? ["redis.googleapis.com"] : []))

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# --- Pub/Sub -------------------------------------------------------------------------------

resource "google_pubsub_topic" "entries" {
  #checkov:skip=CKV_GCP_83:log entries are encrypted at rest with Google-managed keys; a CMEK key ring is left to the caller (kms_key_name)
  name    = "${var.name}-entries"
  project = var.project_id
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:log entries are encrypted at rest with Google-managed keys; a CMEK key ring is left to the caller (kms_key_name)
  name                       = "${var.name}-dead-letter"
  project                    = var.project_id
  labels                     = local.labels
  message_retention_duration = var.message_retention_duration

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "gardener" {
  name    = local.subscription_id
  project = var.project_id
  topic   = google_pubsub_topic.entries.id
  labels  = local.labels

  # The client extends leases while a message waits for its checkpoint.
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention_duration
  retain_acked_messages      = false
  # A message acked after its checkpoint is never delivered again (at least once, an ack that
  # was lost brings it back, and only the last `live.dedupe_ids` ids are recognised).
  enable_exactly_once_delivery = var.exactly_once_delivery

  expiration_policy {
    ttl = "" # never expires
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Dead-lettered messages are dropped unless a subscription holds them: keep them for inspection.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.name}-dead-letter"
  project                    = var.project_id
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  message_retention_duration = var.message_retention_duration

  expiration_policy {
    ttl = ""
  }
}

# --- Log Router sink -------------------------------------------------------------------------

resource "google_logging_project_sink" "entries" {
  name                   = var.name
  project                = var.project_id
  destination            = "pubsub.googleapis.com/${google_pubsub_topic.entries.id}"
  filter                 = local.log_filter
  unique_writer_identity = true
}

resource "google_pubsub_topic_iam_member" "sink_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.entries.name
  role    = "roles/pubsub.publisher"
  member  = google_logging_project_sink.entries.writer_identity
}

resource "google_pubsub_topic_iam_member" "service_agent_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "service_agent_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.gardener.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# --- the gardener's identity -----------------------------------------------------------------

resource "google_service_account" "gardener" {
  project      = var.project_id
  account_id   = var.name
  display_name = "log-gardener (watches ${var.service_name})"

  depends_on = [google_project_service.apis]
}

# GKE: the pod's Kubernetes service account (annotated in deploy/k8s/serviceaccount.yaml) may
# act as the gardener's Google service account.
resource "google_service_account_iam_member" "gke_workload_identity" {
  count = local.cloud_run ? 0 : 1

  service_account_id = google_service_account.gardener.name
  role               = "roles/iam.workloadIdentityUser"
  member             = local.gke_member
}

resource "google_pubsub_subscription_iam_member" "gardener_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.gardener.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.gardener.member
}

# The Managed Prometheus sidecar writes samples, Cloud Run writes the container's logs (on GKE
# both are the cluster's, and the roles are harmless).
resource "google_project_iam_member" "gardener_project_roles" {
  for_each = toset(["roles/monitoring.metricWriter", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.gardener.member
}

# --- secrets ---------------------------------------------------------------------------------

# Add the token as a version: `gcloud secrets versions add <id> --data-file=-`.
resource "google_secret_manager_secret" "github_token" {
  project   = var.project_id
  secret_id = "${var.name}-github-token"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "gardener_token_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.github_token.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gardener.member
}

resource "google_secret_manager_secret" "rungmp_config" {
  count = local.cloud_run ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name}-rungmp-config"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "rungmp_config" {
  count = local.cloud_run ? 1 : 0

  secret      = google_secret_manager_secret.rungmp_config[0].id
  secret_data = local.rungmp_config
}

resource "google_secret_manager_secret_iam_member" "gardener_rungmp_accessor" {
  count = local.cloud_run ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.rungmp_config[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gardener.member
}

# --- State on Cloud Storage (Cloud Run) ------------------------------------------------------

# Mounted at local.state_dir: the file checkpoint (and the one before it), the worklogs and the
# GitHub outbox, so a restart or a redeploy keeps the windows and what was reported. With
# redis_enabled the checkpoint and the GitHub state are in Redis and the worklogs stay here.
resource "google_storage_bucket" "state" {
  count = local.cloud_run ? 1 : 0
  #checkov:skip=CKV_GCP_62:access logs of the service's own state bucket would need a second bucket; its reads and writes are the service account's, audited by Cloud Audit Logs

  name                        = "${var.project_id}-${var.name}"
  project                     = var.project_id
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Every checkpoint write leaves the one it replaces as a noncurrent version: a damaged
  # checkpoint can be restored from the last days, older ones are deleted.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 3
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "gardener_state" {
  count  = local.cloud_run ? 1 : 0
  bucket = google_storage_bucket.state[0].name
  role   = "roles/storage.objectUser"
  member = google_service_account.gardener.member
}

# --- State in Redis (redis_enabled) ----------------------------------------------------------

# The checkpoint, its previous version, the lease and the relay stream (state.redis_url): a
# restart or a redeploy keeps the windows, every replica relays what it pulls, and the replica
# holding the lease counts it.
resource "google_redis_instance" "state" {
  count = var.redis_enabled ? 1 : 0
  #checkov:skip=CKV_GCP_97:in-transit TLS is not built into the client; the instance is reachable only from var.network and requires AUTH

  name               = "${var.name}-state"
  project            = var.project_id
  region             = var.region
  tier               = var.redis_tier
  memory_size_gb     = var.redis_memory_gb
  redis_version      = "REDIS_7_2"
  authorized_network = var.network
  auth_enabled       = true
  labels             = local.labels

  # Under memory pressure only keys with a TTL go: the relayed message ids (the counting
  # replica still recognises recent redeliveries itself), never the checkpoint or the stream.
  redis_configs = {
    "maxmemory-policy" = "volatile-lru"
  }

  # A snapshot every hour besides the replica: a lost instance keeps at most an hour less.
  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "ONE_HOUR"
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "redis_url" {
  count     = var.redis_enabled ? 1 : 0
  project   = var.project_id
  secret_id = "${var.name}-redis-url"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  count       = var.redis_enabled ? 1 : 0
  secret      = google_secret_manager_secret.redis_url[0].id
  secret_data = "redis://:${google_redis_instance.state[0].auth_string}@${google_redis_instance.state[0].host}:${google_redis_instance.state[0].port}"
}

resource "google_secret_manager_secret_iam_member" "gardener_redis_url_accessor" {
  count     = var.redis_enabled ? 1 : 0
  project   = var.project_id
  secret_id = google_secret_manager_secret.redis_url[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gardener.member
}

# --- Cloud Run -------------------------------------------------------------------------------

resource "google_cloud_run_v2_service" "gardener" {
  count = local.cloud_run ? 1 : 0

  name                = var.name
  project             = var.project_id
  location            = var.region
  labels              = local.labels
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false

  template {
    service_account       = google_service_account.gardener.email
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    labels                = local.labels

    # Windows live in one process: one instance, always on; with Redis, replicas beside it
    # (all pull and relay into Redis; one holds the lease and counts, the others take over
    # when it stops).
    scaling {
      min_instance_count = var.replicas
      max_instance_count = var.replicas
    }

    # Memorystore is reached over the VPC.
    dynamic "vpc_access" {
      for_each = var.redis_enabled ? [1] : []
      content {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = var.network
          subnetwork = var.subnetwork
        }
      }
    }

    containers {
      name  = "gardener"
      image = var.image
      args  = ["run"]

      ports {
        container_port = local.metrics_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = false # CPU always allocated: it pulls, it does not serve requests
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.env
        content {
          name  = env.key
          value = env.value
        }
      }

      # The token only once issues are wanted (the secret needs a version by then).
      dynamic "env" {
        for_each = var.github_repo == "" ? [] : ["GITHUB_TOKEN"]
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.github_token.secret_id
              version = "latest"
            }
          }
        }
      }

      # The checkpoint in Redis: the URL carries the instance's AUTH string, so it comes from
      # Secret Manager like the token.
      dynamic "env" {
        for_each = var.redis_enabled ? ["LOG_GARDENER__STATE__REDIS_URL"] : []
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.redis_url[0].secret_id
              version = "latest"
            }
          }
        }
      }

      startup_probe {
        http_get {
          path = "/readyz"
          port = local.metrics_port
        }
        period_seconds    = 5
        timeout_seconds   = 3
        failure_threshold = 24
      }

      liveness_probe {
        http_get {
          path = "/healthz"
          port = local.metrics_port
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }

      volume_mounts {
        name       = "state"
        mount_path = local.state_dir
      }
    }

    # Managed Service for Prometheus sidecar: scrapes localhost:9464/metrics.
    containers {
      name       = "collector"
      image      = var.collector_image
      depends_on = ["gardener"]

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false
      }

      volume_mounts {
        name       = "rungmp-config"
        mount_path = "/etc/rungmp"
      }
    }

    # The state bucket (Cloud Storage FUSE): the checkpoint, the worklogs and the GitHub
    # outbox outlive a restart or a redeploy. Files it writes are staged in memory until
    # uploaded: state_volume_mib of the budget in variables.tf.
    volumes {
      name = "state"
      gcs {
        bucket    = google_storage_bucket.state[0].name
        read_only = false
      }
    }

    volumes {
      name = "rungmp-config"
      secret {
        secret = google_secret_manager_secret.rungmp_config[0].secret_id
        items {
          version = "latest"
          path    = "config.yaml"
        }
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.gardener_project_roles,
    google_secret_manager_secret_version.rungmp_config,
    google_secret_manager_secret_version.redis_url,
    google_secret_manager_secret_iam_member.gardener_redis_url_accessor,
    google_secret_manager_secret_iam_member.gardener_token_accessor,
    google_secret_manager_secret_iam_member.gardener_rungmp_accessor,
    google_pubsub_subscription_iam_member.gardener_subscriber,
  ]
}
