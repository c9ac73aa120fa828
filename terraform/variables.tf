variable "project_id" {
  description = "Google Cloud project that holds the watched service's logs and the gardener."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter, not ending with a hyphen."
  }
}

variable "region" {
  description = "Region of the Cloud Run service running log-gardener."
  type        = string
  default     = "us-central1"

  validation {
    # us-central1, europe-west10, northamerica-northeast2, me-central2, ...
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]{1,2}$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west10."
  }
}

variable "name" {
  description = "Name of the gardener's resources: service account, subscription, sink, Cloud Run service; prefix of the topics and secrets."
  type        = string
  default     = "log-gardener"

  validation {
    # The service account id is the strictest: 6-30 characters, RFC 1035.
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.name))
    error_message = "name must be 6-30 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen (a service account id)."
  }
}

variable "platform" {
  description = "Where log-gardener runs: \"cloud-run\" (this module deploys it) or \"gke\" (deploy/k8s/; this module grants the Kubernetes service account Workload Identity instead)."
  type        = string
  default     = "cloud-run"

  validation {
    condition     = contains(["cloud-run", "gke"], var.platform)
    error_message = "platform must be \"cloud-run\" or \"gke\"."
  }
}

variable "gke_kubernetes_service_account" {
  description = "With platform = \"gke\": the Kubernetes service account (NAMESPACE/NAME) of deploy/k8s/ that acts as the gardener's Google service account."
  type        = string
  default     = "log-gardener/log-gardener"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.gke_kubernetes_service_account))
    error_message = "gke_kubernetes_service_account must be NAMESPACE/NAME."
  }
}

variable "gke_cluster_project_id" {
  description = "With platform = \"gke\": the project of the GKE cluster (its workload pool is PROJECT.svc.id.goog). Empty: project_id."
  type        = string
  default     = ""

  validation {
    condition     = var.gke_cluster_project_id == "" || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.gke_cluster_project_id))
    error_message = "gke_cluster_project_id must be a Google Cloud project id or empty."
  }
}

variable "service_name" {
  description = "Cloud Run service whose logs are watched (used in the default log_filter)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$", var.service_name))
    error_message = "service_name must be a Cloud Run service name: at most 49 lowercase letters, digits or hyphens, starting with a letter, not ending with a hyphen."
  }
}

variable "log_filter" {
  description = "Log Router filter of the entries to watch. Empty: the watched service's Cloud Run logs at WARNING and above."
  type        = string
  default     = ""

  validation {
    condition     = length(var.log_filter) <= 20000
    error_message = "log_filter must be at most 20000 characters (the Log Router's limit)."
  }
}

variable "image" {
  description = "Container image of log-gardener (built from deploy/Dockerfile for linux/amd64), e.g. us-docker.pkg.dev/PROJECT/REPO/log-gardener:TAG."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must not be empty."
  }
}

variable "github_repo" {
  description = "GitHub repository (owner/name) issues are filed in. Empty: no issues. Set it only once the token secret has a version."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repo == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repo))
    error_message = "github_repo must be \"owner/name\" or empty."
  }
}

variable "alertmanager_urls" {
  description = "Alertmanager base URLs the gardener posts alerts to (all get every alert). Empty: no Alertmanager."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.alertmanager_urls : can(regex("^https?://[^/,\\s]+", u)) && !strcontains(u, ",")])
    error_message = "Every alertmanager_urls entry must be an http(s) URL with a host, without commas."
  }
}

variable "alerts_min_priority" {
  description = "New clusters / escalations at or above this priority alert (alerts.min_priority)."
  type        = string
  default     = "P1"

  validation {
    condition     = contains(["P0", "P1", "P2", "P3", "P4", "P5"], var.alerts_min_priority)
    error_message = "alerts_min_priority must be one of P0..P5."
  }
}

variable "extra_env" {
  description = "Further configuration as LOG_GARDENER__SECTION__KEY environment variables (e.g. { LOG_GARDENER__WINDOW__HOP = \"15m\" }); keys this module sets itself are refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_env) : can(regex("^LOG_GARDENER(__[A-Z0-9_]*[A-Z0-9])+$", k))])
    error_message = "extra_env keys must be LOG_GARDENER__SECTION__KEY."
  }

  validation {
    # These follow the module's own variables: the memory budget, the probes, the volume.
    condition = length(setintersection(keys(var.extra_env), [
      "LOG_GARDENER__PUBSUB__PROJECT", "LOG_GARDENER__PUBSUB__SUBSCRIPTION",
      "LOG_GARDENER__PUBSUB__STREAMS", "LOG_GARDENER__PUBSUB__MAX_OUTSTANDING_BYTES",
      "LOG_GARDENER__METRICS__LISTEN", "LOG_GARDENER__LIVE__CHECKPOINT", "LOG_GARDENER__REPORT__DIR",
    ])) == 0
    error_message = "extra_env must not set the Pub/Sub subscription, streams or outstanding bytes, the metrics address, the checkpoint or the report directory: use the module's variables."
  }
}

variable "ack_deadline_seconds" {
  description = "Ack deadline of the subscription (the client extends leases while a message waits for its checkpoint)."
  type        = number
  default     = 60

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600 && floor(var.ack_deadline_seconds) == var.ack_deadline_seconds
    error_message = "ack_deadline_seconds must be a whole number from 10 to 600 (Pub/Sub's range)."
  }
}

variable "exactly_once_delivery" {
  description = "Pub/Sub exactly-once delivery on the subscription: a message whose ack succeeded is never redelivered, so no redelivery can outlast the gardener's memory of message ids. Costs some publish-to-delivery latency."
  type        = bool
  default     = true
}

variable "message_retention_duration" {
  description = "How long unacked messages are kept in the subscription (and the dead-letter topic), in seconds, e.g. \"604800s\"."
  type        = string
  default     = "604800s"

  validation {
    condition = (can(regex("^[0-9]{1,7}s$", var.message_retention_duration))
      ? tonumber(trimsuffix(var.message_retention_duration, "s")) >= 600 && tonumber(trimsuffix(var.message_retention_duration, "s")) <= 2678400
    : false)
    error_message = "message_retention_duration must be whole seconds from \"600s\" (10 minutes) to \"2678400s\" (31 days), Pub/Sub's range."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (matters with pubsub.on_malformed = \"nack\")."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (Pub/Sub's range)."
  }
}

variable "cpu" {
  description = "vCPUs of the gardener container. CPU is always allocated (cpu_idle = false), which Cloud Run allows from 1 vCPU."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu must be \"1\", \"2\", \"4\", \"6\" or \"8\": below 1 vCPU Cloud Run forbids always-allocated CPU, above 1 it takes whole numbers up to 8."
  }
}

# --- memory budget of the gardener container ---------------------------------------------------
# Everything below shares the container's memory limit (`memory`):
#   state_volume_mib                              the state bucket's Cloud Storage FUSE
#                                                 staging the files it writes (checkpoint,
#                                                 worklogs) in the container's memory
#   pubsub_streams × pubsub_max_outstanding_mib   message bytes Pub/Sub may have outstanding at
#                                                 once, held by the client until acked
#   process_memory_mib                            the process itself: open windows, known
#                                                 clusters, 100k dedupe ids, compiled rules
#                                                 (at most 32 MiB, see README "Configuration")
# `memory` must hold their sum (checked below). Defaults: 128 + 2 × 100 + 256 = 584 MiB of 1 GiB.
# The module passes streams and outstanding bytes to the binary, so the budget is what it runs.

variable "memory" {
  description = "Memory limit of the gardener container, e.g. \"1Gi\" or \"1536Mi\"; must hold the memory budget (see the comment above)."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]{1,6}(Mi|Gi)$", var.memory))
    error_message = "memory must be a whole number of Mi or Gi, e.g. \"1Gi\" or \"1536Mi\"."
  }

  validation {
    # Cloud Run: 1 vCPU allows up to 4 GiB, 2 up to 8, 4 takes 2-16, 6 and 8 take 4-24 and 4-32.
    condition = !can(regex("^[0-9]{1,6}(Mi|Gi)$", var.memory)) ? true : (
      tonumber(regex("^[0-9]+", var.memory)) * (endswith(var.memory, "Gi") ? 1024 : 1) >= lookup({ "4" = 2048, "6" = 4096, "8" = 4096 }, var.cpu, 512) &&
      tonumber(regex("^[0-9]+", var.memory)) * (endswith(var.memory, "Gi") ? 1024 : 1) <= lookup({ "1" = 4096, "2" = 8192, "4" = 16384, "6" = 24576, "8" = 32768 }, var.cpu, 4096)
    )
    error_message = "memory is outside what Cloud Run allows for this cpu: 512Mi-4Gi for 1, up to 8Gi for 2, 2-16Gi for 4, 4-24Gi for 6, 4-32Gi for 8."
  }

  validation {
    condition = !can(regex("^[0-9]{1,6}(Mi|Gi)$", var.memory)) ? true : (
      tonumber(regex("^[0-9]+", var.memory)) * (endswith(var.memory, "Gi") ? 1024 : 1)
      >= var.state_volume_mib + var.pubsub_streams * var.pubsub_max_outstanding_mib + var.process_memory_mib
    )
    error_message = "memory must hold the memory budget: state_volume_mib + pubsub_streams × pubsub_max_outstanding_mib + process_memory_mib. Raise memory or lower one of them."
  }
}

variable "state_volume_mib" {
  description = "Memory set aside for the Cloud Storage volume holding the checkpoint and the worklogs, in MiB (part of the memory budget): Cloud Storage FUSE stages each file it writes in the instance's memory until it is uploaded."
  type        = number
  default     = 128

  validation {
    condition     = var.state_volume_mib >= 32 && floor(var.state_volume_mib) == var.state_volume_mib
    error_message = "state_volume_mib must be a whole number of at least 32."
  }
}

variable "pubsub_streams" {
  description = "Parallel StreamingPull streams (pubsub.streams; part of the memory budget)."
  type        = number
  default     = 2

  validation {
    condition     = var.pubsub_streams >= 1 && var.pubsub_streams <= 16 && floor(var.pubsub_streams) == var.pubsub_streams
    error_message = "pubsub_streams must be a whole number from 1 to 16."
  }
}

variable "pubsub_max_outstanding_mib" {
  description = "Per stream: unacked message bytes before Pub/Sub pauses delivery, in MiB (pubsub.max_outstanding_bytes; part of the memory budget)."
  type        = number
  default     = 100

  validation {
    condition     = var.pubsub_max_outstanding_mib >= 1 && var.pubsub_max_outstanding_mib <= 1024 && floor(var.pubsub_max_outstanding_mib) == var.pubsub_max_outstanding_mib
    error_message = "pubsub_max_outstanding_mib must be a whole number from 1 to 1024."
  }
}

variable "process_memory_mib" {
  description = "Memory the gardener process needs beside outstanding messages and the volume, in MiB (part of the memory budget); raise it for many thousands of clusters."
  type        = number
  default     = 256

  validation {
    condition     = var.process_memory_mib >= 128 && floor(var.process_memory_mib) == var.process_memory_mib
    error_message = "process_memory_mib must be a whole number of at least 128."
  }
}

variable "redis_enabled" {
  description = "Keep run's checkpoint in a Memorystore for Redis instance (RDB persistence, reached over Direct VPC egress) instead of a file in the state bucket (written every 2 s rather than 10 s, and shared by replicas); needed for replicas > 1."
  type        = bool
  default     = false
}

variable "redis_tier" {
  description = "Memorystore tier: STANDARD_HA (a replica in another zone, automatic failover) or BASIC."
  type        = string
  default     = "STANDARD_HA"

  validation {
    condition     = contains(["STANDARD_HA", "BASIC"], var.redis_tier)
    error_message = "redis_tier must be STANDARD_HA or BASIC."
  }
}

variable "redis_memory_gb" {
  description = "Memorystore capacity in GB: the checkpoint (a few MB for thousands of clusters), the relay stream (at most state.max_backlog entries, 200,000 by default: about their size in bytes) and ~100 bytes per message id relayed within message_retention_duration (evicted first when memory runs short)."
  type        = number
  default     = 1

  validation {
    condition     = var.redis_memory_gb >= 1 && var.redis_memory_gb <= 300 && floor(var.redis_memory_gb) == var.redis_memory_gb
    error_message = "redis_memory_gb must be a whole number from 1 to 300."
  }
}

variable "network" {
  description = "VPC network Memorystore is authorized on and Cloud Run reaches it through (with redis_enabled)."
  type        = string
  default     = "default"
}

variable "subnetwork" {
  description = "Subnetwork of var.network in var.region for Cloud Run's Direct VPC egress (with redis_enabled)."
  type        = string
  default     = "default"
}

variable "replicas" {
  description = "Cloud Run instances, all always on: every one pulls and relays into Redis, the one holding the Redis lease counts, the others take over within state.lease. More than one needs redis_enabled (without it each would keep its own state)."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5 && floor(var.replicas) == var.replicas && (var.replicas == 1 || var.redis_enabled)
    error_message = "replicas must be a whole number from 1 to 5, and more than 1 only with redis_enabled = true."
  }
}

variable "collector_image" {
  description = "Managed Service for Prometheus sidecar image for Cloud Run."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k, v in var.labels :
    can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "labels must be Google Cloud labels: lowercase keys starting with a letter, up to 63 lowercase letters, digits, _ or - each."
  }
}
