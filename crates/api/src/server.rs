//! Serving the router: https with a self-signed certificate and a bearer token (the default;
//! client-go sends credentials only over TLS), or plain http on loopback behind an explicit
//! flag. Also writes the kubeconfig that points kubectl at it (kubectl-api.md §15).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate could not be made or loaded.
    #[error("TLS setup in {dir}")]
    Tls {
        /// State directory.
        dir: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Accepting failed.
    #[error("serving on {addr}")]
    Io {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// The serving certificate and key (PEM), made once and kept in the state directory.
pub fn load_or_make_cert(dir: &Path) -> io::Result<(String, String)> {
    let (cert_path, key_path) = (dir.join("serving.crt"), dir.join("serving.key"));
    if let (Ok(c), Ok(k)) = (
        std::fs::read_to_string(&cert_path),
        std::fs::read_to_string(&key_path),
    ) {
        return Ok((c, k));
    }
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let (c, k) = (ck.cert.pem(), ck.signing_key.serialize_pem());
    std::fs::create_dir_all(dir)?;
    std::fs::write(&cert_path, &c)?;
    write_private(&key_path, &k)?;
    Ok((c, k))
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

/// A kubeconfig for kubectl.
pub fn kubeconfig(server: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    use std::fmt::Write;
    let mut cluster = format!("    server: {server}\n");
    if let Some(ca) = ca_pem {
        let b64 = base64(ca.as_bytes());
        let _ = writeln!(cluster, "    certificate-authority-data: {b64}");
    }
    let user = match token {
        Some(t) => format!("    token: {t}\n"),
        None => "    {}\n".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podvisor\n  cluster:\n{cluster}users:\n- name: podvisor\n  user:\n{user}contexts:\n- name: podvisor\n  context:\n    cluster: podvisor\n    user: podvisor\n    namespace: default\ncurrent-context: podvisor\n"
    )
    .replace("  user:\n    {}\n", "  user: {}\n")
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Serves `router` on `listener` over TLS until the process ends.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        addr: ([127, 0, 0, 1], 0).into(),
        source,
    })?;
    let tls_err = |e: String| ServeError::Tls {
        dir: String::new(),
        source: io::Error::other(e),
    };
    let certs = rustls_pem(cert_pem).map_err(tls_err)?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(pem_der(key_pem).map_err(tls_err)?)
        .map_err(|e| tls_err(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_err(e.to_string()))?;
    // HTTP/1.1 only: exec and port-forward upgrades are HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(|source| ServeError::Io { addr, source })?;
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = TowerToHyperService::new(router);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Serves `router` on `listener` over plain http.
pub async fn serve_plain(listener: TcpListener, router: Router) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        addr: ([127, 0, 0, 1], 0).into(),
        source,
    })?;
    axum::serve(listener, router)
        .await
        .map_err(|source| ServeError::Io { addr, source })
}

fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            cur = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(b) = cur.take() {
                out.push(decode_b64(&b));
            }
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line.trim());
        }
    }
    out
}

fn decode_b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    out
}

fn rustls_pem(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let blocks = pem_blocks(pem);
    if blocks.is_empty() {
        return Err("no certificate in PEM".into());
    }
    Ok(blocks
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect())
}

fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    pem_blocks(pem)
        .into_iter()
        .next()
        .ok_or_else(|| "no key in PEM".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world"] {
            assert_eq!(decode_b64(&base64(s.as_bytes())), s.as_bytes());
        }
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
