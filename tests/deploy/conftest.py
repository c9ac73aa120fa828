"""Helpers for the deploy tests: the Terraform module parsed with python-hcl2 (or checkov's
bc-python-hcl2, which installs the same `hcl2` package and wraps attributes in lists)."""
import pathlib
import re

import hcl2
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform"
EXAMPLE = ROOT / "examples" / "basic"


def attr(block, key, default=None):
    """An attribute's value, unwrapped from the one-element list some hcl2 versions use."""
    v = block.get(key, default)
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        v = v[1:-1]
    return v


def blocks(block, key):
    """Nested blocks named `key` (always a list of dicts)."""
    v = block.get(key, [])
    return v if isinstance(v, list) else [v]


class Module:
    def __init__(self, path):
        self.path = path
        self.files = {}
        self.text = ""
        for f in sorted(path.glob("*.tf")):
            src = f.read_text()
            self.text += src + "\n"
            with f.open() as fh:
                self.files[f.name] = hcl2.load(fh)
        self.resources = {}
        self.data = {}
        self.variables = {}
        self.outputs = {}
        self.locals = {}
        self.modules = {}
        for doc in self.files.values():
            for r in doc.get("resource", []):
                for rtype, named in r.items():
                    for name, body in named.items():
                        self.resources[(strip(rtype), strip(name))] = body
            for r in doc.get("data", []):
                for rtype, named in r.items():
                    for name, body in named.items():
                        self.data[(strip(rtype), strip(name))] = body
            for v in doc.get("variable", []):
                for name, body in v.items():
                    self.variables[strip(name)] = body
            for o in doc.get("output", []):
                for name, body in o.items():
                    self.outputs[strip(name)] = body
            for l in doc.get("locals", []):
                for name, value in l.items():
                    self.locals[name] = attr(l, name)
            for m in doc.get("module", []):
                for name, body in m.items():
                    self.modules[strip(name)] = body

    def files_text(self, name):
        return (self.path / name).read_text()

    def res(self, rtype, name):
        assert (rtype, name) in self.resources, f"missing resource {rtype}.{name}"
        return self.resources[(rtype, name)]

    def of_type(self, rtype):
        return {n: b for (t, n), b in self.resources.items() if t == rtype}


def strip(name):
    return name[1:-1] if name.startswith('"') and name.endswith('"') else name


def code_without_comments(text):
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


@pytest.fixture(scope="session")
def module():
    return Module(MODULE)


@pytest.fixture(scope="session")
def example():
    return Module(EXAMPLE)
