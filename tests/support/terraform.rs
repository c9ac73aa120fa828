//! The Cloud Run container's environment exactly as Terraform computes it from terraform/
//! (tests/deploy/tf_env.py evaluates the `env` blocks of the parsed HCL with Terraform itself),
//! made runnable here: paths under the container's volume mounts go to a temp directory per
//! mount, the metrics address to a free local port. Needs the deploy venv, made on first use
//! with `scripts/deploy-checks.sh --setup` (never skipped).

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a setup script once per test binary; a failure fails every test that needs it.
pub fn once(done: &Mutex<bool>, script: &str, arg: &str) {
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    if !*done {
        let st = Command::new("bash")
            .arg(root().join(script))
            .arg(arg)
            .status()
            .unwrap_or_else(|e| panic!("run {script} {arg}: {e}"));
        assert!(st.success(), "{script} {arg} failed");
        *done = true;
    }
}

/// `python tests/deploy/tf_env.py CASE`: the container's env, secrets and mounts as JSON.
pub fn terraform_env(case: &str) -> Value {
    static VENV: Mutex<bool> = Mutex::new(false);
    once(&VENV, "scripts/deploy-checks.sh", "--setup");
    let venv = root().join("target/deploy-venv");
    let out = Command::new(venv.join("bin/python"))
        .arg(root().join("tests/deploy/tf_env.py"))
        .arg(case)
        .env("PYTHONPATH", venv.join("python-hcl2"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run tests/deploy/tf_env.py");
    assert!(
        out.status.success(),
        "tf_env.py {case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tf_env.py prints JSON")
}

/// The env as the test runs it: mount paths under `tmp`, metrics on a free local port.
pub fn runnable_env(tf: &Value, tmp: &Path) -> Vec<(String, String)> {
    let mounts: Vec<(String, String)> = tf["mounts"]
        .as_object()
        .expect("mounts")
        .iter()
        .map(|(name, path)| (name.clone(), path.as_str().unwrap().to_owned()))
        .collect();
    let remap = |v: &str| {
        for (name, path) in &mounts {
            if let Some(rest) = v.strip_prefix(path.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{}{rest}", tmp.join(name).display());
                }
            }
        }
        v.to_owned()
    };
    tf["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            let value = e["value"].as_str().unwrap();
            let value = match name.as_str() {
                "LOG_GARDENER__METRICS__LISTEN" => "127.0.0.1:0".to_owned(),
                _ => remap(value),
            };
            (name, value)
        })
        .collect()
}

pub fn get<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} is not in the container's environment"))
}
