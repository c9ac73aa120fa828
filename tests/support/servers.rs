//! Real Prometheus and Alertmanager processes for tests (Debian's `prometheus` and
//! `prometheus-alertmanager`), on free 127.0.0.1 ports with temporary directories, stopped by
//! pid when dropped; and an in-process webhook receiver that records what Alertmanager sends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;

pub const PROMETHEUS: &str = "/usr/bin/prometheus";
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// The binary, or a failure that says how to get it: these tests never pass by skipping.
pub fn require(bin: &str) -> PathBuf {
    let p = PathBuf::from(bin);
    assert!(
        p.exists(),
        "{bin} is missing: install it with `apt-get install -y prometheus prometheus-alertmanager` \
         (.ci/run does this itself)"
    );
    p
}

pub fn free_addr() -> SocketAddr {
    let [addr] = free_addrs();
    addr
}

/// `N` distinct free addresses: each port stays bound until all are chosen, so the kernel
/// cannot hand out one twice.
pub fn free_addrs<const N: usize>() -> [SocketAddr; N] {
    let listeners: [std::net::TcpListener; N] = std::array::from_fn(|_| {
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1")
    });
    listeners.map(|l| l.local_addr().expect("bound address"))
}

/// A server process; killed (by its own pid) and reaped on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Waits until `GET /-/ready` answers 200; on timeout fails with the server's log.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("{}/-/ready", self.url());
        // reqwest brings no TLS provider; the service installs ring before its first client.
        log_gardener::tls::install();
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(&url).await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited with {status}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{url} not ready after 20 s:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &str, dir: tempfile::TempDir, addr: SocketAddr, args: &[String]) -> Server {
    let log = std::fs::File::create(dir.path().join("log")).expect("log file");
    let child = Command::new(require(bin))
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    Server { child, addr, dir }
}

fn path_arg(flag: &str, p: &Path) -> String {
    format!("{flag}={}", p.display())
}

/// Prometheus scraping `targets` every second, evaluating `rule_files` every second.
pub fn prometheus(targets: &[SocketAddr], rule_files: &[PathBuf]) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = free_addr();
    let rules: Vec<String> = rule_files
        .iter()
        .map(|p| format!("  - {}\n", p.display()))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n{}\
         scrape_configs:\n  - job_name: log-gardener\n    static_configs:\n      - targets: [{}]\n",
        if rules.is_empty() {
            "  []\n".to_owned()
        } else {
            rules.concat()
        },
        targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config).expect("write prometheus.yml");
    let args = vec![
        path_arg("--config.file", &cfg),
        path_arg("--storage.tsdb.path", &dir.path().join("data")),
        format!("--web.listen-address={addr}"),
        "--log.level=warn".into(),
    ];
    spawn(PROMETHEUS, dir, addr, &args)
}

/// An Alertmanager (no HA gossip) that sends every notification, resolved ones too, to
/// `hook` at once: group_wait 0s, group_interval 1s.
pub fn alertmanager(hook: SocketAddr) -> Server {
    alertmanager_at(hook, free_addr())
}

/// [`alertmanager`] on a given address (to start one late: an outage that ends).
pub fn alertmanager_at(hook: SocketAddr, addr: SocketAddr) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "route:\n  receiver: hook\n  group_by: ['cluster']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{hook}/\n        send_resolved: true\n"
    );
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, config).expect("write alertmanager.yml");
    let args = vec![
        path_arg("--config.file", &cfg),
        path_arg("--storage.path", &dir.path().join("data")),
        format!("--web.listen-address={addr}"),
        format!("--web.external-url=http://{addr}/"),
        "--cluster.listen-address=".into(),
        "--log.level=warn".into(),
    ];
    spawn(ALERTMANAGER, dir, addr, &args)
}

/// Records the JSON bodies POSTed to it (Alertmanager's webhook notifications).
#[derive(Clone, Default)]
pub struct Hook {
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Hook {
    pub async fn start() -> (Hook, SocketAddr) {
        let hook = Hook::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind hook");
        let addr = listener.local_addr().expect("hook address");
        let bodies = hook.bodies.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let bodies = bodies.clone();
                        async move {
                            let bytes = req.into_body().collect().await?.to_bytes();
                            if let Ok(v) = serde_json::from_slice(&bytes) {
                                bodies.lock().expect("hook lock").push(v);
                            }
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (hook, addr)
    }

    pub fn notifications(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("hook lock").clone()
    }
}

/// Polls `check` every 100 ms until it returns Some or `within` passes.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET url` parsed as JSON; None on any failure (the caller polls).
pub async fn get_json(url: &str) -> Option<serde_json::Value> {
    log_gardener::tls::install();
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
