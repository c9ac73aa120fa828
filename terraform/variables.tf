variable "project_id" {
  description = "Google Cloud project that holds the watched service's logs and the gardener."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the Cloud Run service running log-gardener."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like a Google Cloud region, e.g. us-central1."
  }
}

variable "name" {
  description = "Name prefix of every resource created (topic, subscription, sink, service account, Cloud Run service)."
  type        = string
  default     = "log-gardener"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "service_name" {
  description = "Cloud Run service whose logs are watched (used in the default log_filter)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.service_name))
    error_message = "service_name must be a Cloud Run service name (lowercase letters, digits, hyphens)."
  }
}

variable "log_filter" {
  description = "Log Router filter of the entries to watch. Empty: the watched service's Cloud Run logs at WARNING and above."
  type        = string
  default     = ""
}

variable "image" {
  description = "Container image of log-gardener (built from deploy/Dockerfile), e.g. us-docker.pkg.dev/PROJECT/REPO/log-gardener:TAG."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must not be empty."
  }
}

variable "github_repo" {
  description = "GitHub repository (owner/name) issues are filed in. Empty: no issues."
  type        = string
  default     = ""

  validation {
    condition     = var.github_repo == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repo))
    error_message = "github_repo must be \"owner/name\" or empty."
  }
}

variable "alertmanager_urls" {
  description = "Alertmanager base URLs the gardener posts alerts to (all get every alert)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.alertmanager_urls : can(regex("^https?://", u))])
    error_message = "Every alertmanager_urls entry must start with http:// or https://."
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
  description = "Further configuration as LOG_GARDENER__SECTION__KEY environment variables (e.g. { LOG_GARDENER__WINDOW__HOP = \"15m\" })."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_env) : can(regex("^LOG_GARDENER__[A-Z_]+__[A-Z_]+$", k))])
    error_message = "extra_env keys must be LOG_GARDENER__SECTION__KEY."
  }
}

variable "ack_deadline_seconds" {
  description = "Ack deadline of the subscription (the client extends leases while a message waits for its checkpoint)."
  type        = number
  default     = 60

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600."
  }
}

variable "message_retention_duration" {
  description = "How long unacked messages are kept in the subscription (and the dead-letter topic)."
  type        = string
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.message_retention_duration))
    error_message = "message_retention_duration must be seconds, e.g. \"604800s\"."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (matters with pubsub.on_malformed = \"nack\")."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "cpu" {
  description = "CPU limit of the gardener container."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of the gardener container."
  type        = string
  default     = "512Mi"
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
}
