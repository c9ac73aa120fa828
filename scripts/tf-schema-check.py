#!/usr/bin/env python3
"""Checks every resource, data source and provider block of Terraform directories against the
google provider's schema, offline: @cdktf/provider-google carries it as generated TypeScript
definitions (lib/<resource>/index.d.ts: one interface per block, each argument with its
snake_case name in the registry link and `?` when optional).

    tf-schema-check.py --schema node_modules/@cdktf/provider-google [--schema ...] DIR...

Reports unknown arguments and blocks, missing required ones, unknown resource types, and
module calls that pass undeclared variables or leave out required ones. Exits 1 on any.
Needs python-hcl2 (the `hcl2` package) on the path.
"""
import argparse
import json
import pathlib
import re
import sys

import hcl2

META = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
IFACE = re.compile(r"^export interface (\w+)(?: extends ([\w.]+))? \{\n(.*?)^\}", re.M | re.S)
PROP = re.compile(r"/\*\*(?P<doc>(?:(?!\*/).)*)\*/\s*readonly (?P<camel>\w+)(?P<opt>\?)?: "
                  r"(?P<type>.*?);\n(?=\s*(?:/\*\*|$))", re.S)
LINK = re.compile(r"\{@link \S+?#(\w+) [\w.]+#\w+\}")


def strip(s):
    return s[1:-1] if s.startswith('"') and s.endswith('"') else s


class Schema:
    """One @cdktf/provider-google package: interfaces per resource directory, read lazily."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        meta = json.loads((self.root / "package.json").read_text())
        self.version = meta["cdktf"]["provider"]["version"]
        self.package = meta["version"]
        self._cache = {}

    def interfaces(self, libdir):
        if libdir not in self._cache:
            f = self.root / "lib" / libdir / "index.d.ts"
            self._cache[libdir] = parse_dts(f.read_text()) if f.exists() else None
        return self._cache[libdir]

    def block(self, kind, rtype):
        """(interfaces, config interface name) of a resource/data type, or None if unknown."""
        if kind == "provider":
            libdir = "provider"
        elif kind == "data":
            libdir = "data-" + rtype.replace("_", "-")
        else:
            libdir = rtype.removeprefix("google_").replace("_", "-")
        ifaces = self.interfaces(libdir)
        if ifaces is None:
            return None
        suffix = "ProviderConfig" if kind == "provider" else "Config"
        configs = [n for n, i in ifaces.items() if n.endswith(suffix) and i["top"]]
        return ifaces, configs[0] if configs else None


def parse_dts(text):
    """interface name -> {"top": extends TerraformMetaArguments, "props": {snake: (optional,
    nested interface name or None)}}."""
    out = {}
    for m in IFACE.finditer(text):
        name, extends, body = m.group(1), m.group(2), m.group(3)
        out[name] = {"top": extends == "cdktf.TerraformMetaArguments" or
                     name.endswith("ProviderConfig"), "props": {}, "raw": []}
        for p in PROP.finditer(body):
            link = LINK.search(p.group("doc"))
            snake = link.group(1) if link else camel_to_snake(p.group("camel"))
            out[name]["raw"].append((snake, p.group("opt") == "?", p.group("type")))
    for name, i in out.items():
        for snake, optional, typ in i.pop("raw"):
            ident = re.sub(r"\s*\|\s*cdktf\.IResolvable|\[\]", "", typ).strip()
            i["props"][snake] = (optional, ident if ident in out else None)
    return out


def camel_to_snake(s):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", s).lower()


def is_block(v):
    return isinstance(v, list) and v and all(isinstance(b, dict) and b.get("__is_block__")
                                             for b in v)


def check_body(body, ifaces, iface, where, errors, top):
    props = ifaces[iface]["props"]
    present = set()
    for key, value in body.items():
        if key.startswith("__") or (top and key in META):
            continue
        if key == "dynamic":
            for d in value:
                for label, dyn in d.items():
                    name = strip(label)
                    present.add(name)
                    if name not in props or props[name][1] is None:
                        errors.append(f"{where}: unknown block `{name}` (dynamic)")
                        continue
                    for content in dyn.get("content", []):
                        check_body(content, ifaces, props[name][1], f"{where}.{name}", errors,
                                   False)
            continue
        present.add(key)
        if key not in props:
            errors.append(f"{where}: unknown argument or block `{key}`")
            continue
        nested = props[key][1]
        if nested and is_block(value):
            for b in value:
                check_body(b, ifaces, nested, f"{where}.{key}", errors, False)
    for name, (optional, _) in props.items():
        if not optional and name not in present:
            errors.append(f"{where}: missing required `{name}`")


def load_dir(d):
    docs = {}
    for f in sorted(pathlib.Path(d).glob("*.tf")):
        with f.open() as fh:
            docs[f] = hcl2.load(fh)
    return docs


def check_dir(d, schema, errors):
    docs = load_dir(d)
    for f, doc in docs.items():
        for kind in ("resource", "data"):
            for r in doc.get(kind, []):
                for rtype, named in r.items():
                    rtype = strip(rtype)
                    for name, body in named.items():
                        where = f"{f}: {'data.' if kind == 'data' else ''}{rtype}.{strip(name)}"
                        found = schema.block(kind, rtype)
                        if found is None or found[1] is None:
                            errors.append(f"{where}: no such {kind} type in google "
                                          f"{schema.version}")
                            continue
                        check_body(body, found[0], found[1], where, errors, True)
        for p in doc.get("provider", []):
            for pname, body in p.items():
                if strip(pname) == "google":
                    ifaces, config = schema.block("provider", "google")
                    body = {k: v for k, v in body.items() if k != "alias"}
                    check_body(body, ifaces, config, f"{f}: provider google", errors, False)
        for m in doc.get("module", []):
            for mname, body in m.items():
                check_module_call(d, f, strip(mname), body, errors)


def check_module_call(d, f, name, body, errors):
    source = strip(str(body.get("source", "")))
    if not source.startswith("."):
        return
    variables = {}
    for doc in load_dir(pathlib.Path(d) / source).values():
        for v in doc.get("variable", []):
            for vname, vbody in v.items():
                variables[strip(vname)] = "default" in vbody
    passed = {k for k in body if not k.startswith("__") and k not in META | {"source", "version"}}
    for k in sorted(passed - set(variables)):
        errors.append(f"{f}: module {name}: `{k}` is not a variable of {source}")
    for k in sorted(v for v, has_default in variables.items() if not has_default and v not in passed):
        errors.append(f"{f}: module {name}: required variable `{k}` not passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema", action="append", required=True,
                    help="an installed @cdktf/provider-google directory (repeatable)")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    failed = False
    for root in args.schema:
        schema = Schema(root)
        errors = []
        for d in args.dirs:
            check_dir(d, schema, errors)
        label = f"google {schema.version} (@cdktf/provider-google {schema.package})"
        if errors:
            failed = True
            print(f"schema check against {label}: {len(errors)} problem(s)")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"schema check against {label}: ok ({', '.join(args.dirs)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
