#!/usr/bin/env python3
"""Writes every PromQL query of the Grafana dashboard as a recording rule, so that
`promtool check rules` parses them all (dashboard variables replaced by a match-all)."""
import json
import sys

dash = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard-queries\n    rules:")
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"].replace("$job", ".*")
        print(f"      - record: dashboard:panel{p['id']}:{t['refId']}")
        print(f"        expr: {json.dumps(expr)}")
