output "topic" {
  description = "Pub/Sub topic the Log Router sink publishes to."
  value       = google_pubsub_topic.entries.id
}

output "dead_letter_topic" {
  description = "Dead-letter topic of the subscription."
  value       = google_pubsub_topic.dead_letter.id
}

output "subscription" {
  description = "Pub/Sub subscription log-gardener pulls."
  value       = google_pubsub_subscription.gardener.id
}

output "sink_writer_identity" {
  description = "Writer identity of the Log Router sink."
  value       = google_logging_project_sink.entries.writer_identity
}

output "service_account_email" {
  description = "Service account log-gardener runs as."
  value       = google_service_account.gardener.email
}

output "service_url" {
  description = "URL of the Cloud Run service (ingress is internal-only; /metrics, /healthz, /readyz); null with platform = \"gke\"."
  value       = one(google_cloud_run_v2_service.gardener[*].uri)
}

output "gke_workload_identity_member" {
  description = "With platform = \"gke\": the Kubernetes service account granted roles/iam.workloadIdentityUser on the gardener's service account; null otherwise."
  value       = one(google_service_account_iam_member.gke_workload_identity[*].member)
}

output "github_token_secret_id" {
  description = "Secret Manager secret to add the GitHub token to as a version."
  value       = google_secret_manager_secret.github_token.secret_id
}
