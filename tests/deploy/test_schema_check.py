"""scripts/tf-schema-check.py can fail: a misspelled argument, a missing required one and a
misspelled block inside a dynamic block, each in a copy of terraform/, are all reported.
Needs the schema packages scripts/deploy-checks.sh installs into target/cdktf/."""
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = sorted(ROOT.glob("target/cdktf/*/node_modules/@cdktf/provider-google"))


def run_check(d):
    assert len(SCHEMAS) >= 2, "run scripts/deploy-checks.sh: it installs the schema packages"
    args = [a for s in SCHEMAS for a in ("--schema", str(s))]
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "tf-schema-check.py"), *args,
                           str(d)], capture_output=True, text=True)


def test_the_module_as_it_is_passes(tmp_path):
    r = run_check(ROOT / "terraform")
    assert r.returncode == 0, r.stdout + r.stderr


def test_typos_and_missing_required_arguments_fail(tmp_path):
    d = tmp_path / "terraform"
    shutil.copytree(ROOT / "terraform", d)
    main = (d / "main.tf").read_text()
    broken = (main
              .replace("ack_deadline_seconds       = var.ack_deadline_seconds",
                       "ack_deadline_second        = var.ack_deadline_seconds", 1)
              .replace("  topic   = google_pubsub_topic.entries.id\n", "", 1)
              .replace("value_source {", "value_sources {", 1))
    assert broken.count("\n") == main.count("\n") - 1, "all three edits applied"
    (d / "main.tf").write_text(broken)
    r = run_check(d)
    assert r.returncode == 1, r.stdout + r.stderr
    for schema in ("6.11.0", "6.50.0"):
        assert f"against google {schema}" in r.stdout
    out = r.stdout
    assert "google_pubsub_subscription.gardener: unknown argument or block `ack_deadline_second`" in out
    assert "google_pubsub_subscription.gardener: missing required `topic`" in out
    assert "containers.env: unknown argument or block `value_sources`" in out
