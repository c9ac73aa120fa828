terraform {
  # 1.9: a variable's validation may refer to other variables (the memory budget does).
  required_version = ">= 1.9"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Every
      # argument here is checked against the schemas of 6.11.0 and 6.50.0
      # (scripts/tf-schema-check.py, run by scripts/deploy-checks.sh).
      version = ">= 6.11, < 7"
    }
  }
}
