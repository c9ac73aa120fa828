//! The one TLS stack (ring) at work: a real handshake with the provider the service installs,
//! a service-account key signing through it, and every client the service builds (Pub/Sub
//! over TLS, GitHub, alert receivers) coming up without a provider panic. Only 127.0.0.1.

use std::sync::Arc;

use log_gardener::sinks::alert::payload::Links;
use log_gardener::sinks::alert::{Alertmanager, Webhook};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CA: &str = include_str!("data/tls/ca.pem");
const SERVER_CERT: &str = include_str!("data/tls/server.pem");
const SERVER_KEY: &str = include_str!("data/tls/server-key.pem");
const SA_KEY: &str = include_str!("data/tls/sa-key.pem");

/// The provider rustls hands to clients built without one is ring's.
fn assert_default_is_ring() {
    let got = rustls::crypto::CryptoProvider::get_default().expect("a default provider");
    let names = |p: &rustls::crypto::CryptoProvider| {
        p.cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(got), names(&rustls::crypto::ring::default_provider()));
}

/// One HTTPS answer ("ok") from 127.0.0.1, with a certificate signed by the test CA.
async fn https_once() -> String {
    let certs = vec![CertificateDer::from_pem_slice(SERVER_CERT.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tls.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed before sending a request");
            req.extend_from_slice(&buf[..n]);
        }
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        tls.write_all(answer).await.unwrap();
        tls.shutdown().await.unwrap();
    });
    format!("https://127.0.0.1:{}/", addr.port())
}

#[tokio::test]
async fn an_https_request_completes_over_the_installed_provider() {
    log_gardener::tls::install();
    assert_default_is_ring();
    let url = https_once().await;
    // reqwest is built without a provider of its own: this handshake runs on the default.
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(CA.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn a_service_account_key_signs_with_ring() {
    log_gardener::tls::install();
    // The fields of a downloaded service-account JSON key (a throwaway key made for this test).
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-id",
        "private_key": SA_KEY,
        "client_email": "log-gardener@test-project.iam.gserviceaccount.com",
    });
    let signer = google_cloud_auth::credentials::service_account::Builder::new(key)
        .build_signer()
        .unwrap();
    let message = b"header.claims";
    let signature = signer.sign(message).await.unwrap();
    // Google checks RS256 with the key's public half; so does this test.
    let der = PrivateKeyDer::from_pem_slice(SA_KEY.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_der()).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec(),
    );
    public
        .verify(message, &signature)
        .expect("a valid RS256 signature");
    assert!(public.verify(b"other", &signature).is_err());
}

#[tokio::test]
async fn every_client_the_service_builds_comes_up() {
    let links = Links {
        logging_project: None,
    };
    // The library's own constructors install the provider (no explicit install here).
    Alertmanager::new("https://127.0.0.1:1", links.clone()).expect("alertmanager client");
    Webhook::new("https://127.0.0.1:1/hook", links).expect("webhook client");
    assert_default_is_ring();
    // Pub/Sub over TLS (gRPC with rustls): building the client sets up its TLS config now
    // and connects lazily, so an unreachable https endpoint is enough to exercise it.
    let anonymous = google_cloud_auth::credentials::anonymous::Builder::new().build();
    google_cloud_pubsub::client::Subscriber::builder()
        .with_endpoint("https://127.0.0.1:1")
        .with_credentials(anonymous)
        .build()
        .await
        .expect("a Pub/Sub client over TLS");
}
