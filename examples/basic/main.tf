# Deploys log-gardener watching one Cloud Run service. Copy terraform.tfvars.example to
# terraform.tfvars, fill it in, then `terraform init && terraform apply`.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.11, < 7"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

variable "project_id" {
  description = "Google Cloud project of the watched service and the gardener."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run service running log-gardener."
  type        = string
  default     = "us-central1"
}

variable "service_name" {
  description = "Cloud Run service whose WARNING+ logs are watched."
  type        = string
}

variable "image" {
  description = "log-gardener image built from deploy/Dockerfile."
  type        = string
}

variable "github_repo" {
  description = "owner/name issues are filed in; empty until the token secret has a version."
  type        = string
  default     = ""
}

variable "alertmanager_urls" {
  description = "Alertmanager base URLs."
  type        = list(string)
  default     = []
}

module "log_gardener" {
  source = "../../terraform"

  project_id        = var.project_id
  region            = var.region
  service_name      = var.service_name
  image             = var.image
  github_repo       = var.github_repo
  alertmanager_urls = var.alertmanager_urls
}

output "subscription" {
  description = "Subscription the gardener pulls."
  value       = module.log_gardener.subscription
}

output "service_url" {
  description = "Cloud Run URL (internal ingress)."
  value       = module.log_gardener.service_url
}

output "github_token_secret_id" {
  description = "Secret to add the GitHub token to."
  value       = module.log_gardener.github_token_secret_id
}
