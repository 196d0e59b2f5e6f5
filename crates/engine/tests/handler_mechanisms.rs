//! The handler mechanisms shared by hooks and probes against real loopback servers and a
//! scripted exec target: the kubelet's success rules and message formats (§4, §5.3).

use std::net::SocketAddr;
use std::time::Duration;

use podvisor_engine::handlers::{run_hook, run_probe, HandlerTarget};
use podvisor_engine::runtime::{ExecOutput, RuntimeError, SandboxId};
use podvisor_lifecycle::observation::ProbeOutcome;
use podvisor_lifecycle::plan::{HandlerPlan, HttpGetPlan, HttpScheme, ProbePlan, ProbeType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Exec returns a scripted output; connect dials loopback directly.
struct Target {
    exec: (Duration, ExecOutput),
}

impl HandlerTarget for Target {
    async fn exec(
        &self,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, RuntimeError> {
        if let Some(t) = timeout {
            if self.exec.0 > t {
                tokio::time::sleep(t).await;
                return Err(RuntimeError::ExecTimeout {
                    argv: argv.to_vec(),
                    timeout: t,
                });
            }
        }
        tokio::time::sleep(self.exec.0).await;
        Ok(self.exec.1.clone())
    }
    async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<tokio::net::TcpStream, RuntimeError> {
        let err = |source| RuntimeError::Connect {
            sandbox: SandboxId("t".into()),
            addr,
            source,
        };
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(r) => r.map_err(err),
            Err(_) => Err(err(std::io::ErrorKind::TimedOut.into())),
        }
    }
    fn pod_ip(&self) -> Option<String> {
        Some("127.0.0.1".into())
    }
}

fn target() -> Target {
    Target {
        exec: (Duration::ZERO, ExecOutput::default()),
    }
}

/// A server answering every connection with `response`; returns its port and a receiver of the
/// raw requests.
async fn http_server(
    responses: Vec<&'static str>,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut i = 0;
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let r = responses[i.min(responses.len() - 1)];
            i += 1;
            let _ = s.write_all(r.as_bytes()).await;
        }
    });
    (port, rx)
}

fn http(port: u16, path: &str) -> HandlerPlan {
    HandlerPlan::HttpGet(HttpGetPlan {
        scheme: HttpScheme::Http,
        host: None,
        port,
        path: path.into(),
        headers: vec![],
    })
}

fn probe(handler: HandlerPlan) -> ProbePlan {
    ProbePlan {
        handler,
        initial_delay_seconds: 0,
        timeout_seconds: 1,
        period_seconds: 10,
        success_threshold: 1,
        failure_threshold: 3,
        termination_grace_period_seconds: None,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const R500: &str =
    "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\nboom";
const R200: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

#[tokio::test]
async fn an_http_hook_succeeds_on_any_response_even_500_with_the_kubelet_headers() {
    let (port, mut rx) = http_server(vec![R500]).await;
    assert_eq!(
        run_hook(&target(), &http(port, "/deregister")).await,
        Ok(())
    );
    let req = rx.recv().await.unwrap();
    assert!(req.starts_with("GET /deregister HTTP/1.1\r\n"), "{req}");
    assert!(
        req.to_lowercase()
            .contains("user-agent: kube-lifecycle/1.32"),
        "{req}"
    );
    assert!(req.to_lowercase().contains("accept: */*"), "{req}");
}

#[tokio::test]
async fn an_http_hook_fails_only_on_transport_errors() {
    let port = free_port();
    let err = run_hook(&target(), &http(port, "/")).await.unwrap_err();
    assert!(err.error.contains("connection refused"), "{}", err.error);
}

#[tokio::test]
async fn an_exec_hook_reports_the_kubelets_error_and_output() {
    let t = Target {
        exec: (
            Duration::ZERO,
            ExecOutput {
                exit_code: 2,
                stdout: b"out\n".to_vec(),
                stderr: b"bad\n".to_vec(),
            },
        ),
    };
    let cmd = HandlerPlan::Exec {
        command: vec!["sh".into(), "-c".into(), "exit 2".into()],
    };
    let err = run_hook(&t, &cmd).await.unwrap_err();
    assert_eq!(err.error, "command 'sh -c exit 2' exited with 2: bad\n");
    assert_eq!(err.output, "out\nbad\n");
}

#[tokio::test]
async fn a_tcp_socket_hook_always_fails_and_sleep_zero_succeeds() {
    let err = run_hook(
        &target(),
        &HandlerPlan::TcpSocket {
            host: None,
            port: 80,
        },
    )
    .await
    .unwrap_err();
    assert!(err.error.starts_with("invalid handler"), "{}", err.error);
    assert_eq!(
        run_hook(&target(), &HandlerPlan::Sleep { seconds: 0 }).await,
        Ok(())
    );
}

#[tokio::test]
async fn http_probes_succeed_on_2xx_and_fail_with_the_status_code_otherwise() {
    let (port, mut rx) = http_server(vec![R200, R500]).await;
    let p = probe(http(port, "/healthz"));
    assert_eq!(
        run_probe(&target(), ProbeType::Readiness, &p).await,
        ProbeOutcome::Success
    );
    let req = rx.recv().await.unwrap();
    assert!(
        req.to_lowercase().contains("user-agent: kube-probe/1.32"),
        "{req}"
    );
    assert_eq!(
        run_probe(&target(), ProbeType::Liveness, &p).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())
    );
}

#[tokio::test]
async fn same_host_redirects_are_followed() {
    let redirect =
        "HTTP/1.1 302 Found\r\nlocation: /real\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let (port, mut rx) = http_server(vec![redirect, R200]).await;
    assert_eq!(
        run_probe(&target(), ProbeType::Readiness, &probe(http(port, "/"))).await,
        ProbeOutcome::Success
    );
    rx.recv().await.unwrap();
    assert!(rx.recv().await.unwrap().starts_with("GET /real "));
}

#[tokio::test]
async fn tcp_probes_succeed_on_connect_and_fail_with_gos_dial_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let p = probe(HandlerPlan::TcpSocket { host: None, port });
    assert_eq!(
        run_probe(&target(), ProbeType::Liveness, &p).await,
        ProbeOutcome::Success
    );
    drop(l);
    let closed = free_port();
    let p = probe(HandlerPlan::TcpSocket {
        host: None,
        port: closed,
    });
    assert_eq!(
        run_probe(&target(), ProbeType::Liveness, &p).await,
        ProbeOutcome::Failure(format!(
            "dial tcp 127.0.0.1:{closed}: connect: connection refused"
        ))
    );
}

#[tokio::test]
async fn exec_probes_fail_on_non_zero_exit_and_time_out_with_the_kubelets_message() {
    let t = Target {
        exec: (
            Duration::ZERO,
            ExecOutput {
                exit_code: 1,
                stdout: b"not ready".to_vec(),
                stderr: vec![],
            },
        ),
    };
    let cmd = HandlerPlan::Exec {
        command: vec!["cat".into(), "/tmp/healthy".into()],
    };
    assert_eq!(
        run_probe(&t, ProbeType::Liveness, &probe(cmd.clone())).await,
        ProbeOutcome::Failure("not ready".into())
    );
    let slow = Target {
        exec: (Duration::from_secs(5), ExecOutput::default()),
    };
    assert_eq!(
        run_probe(&slow, ProbeType::Liveness, &probe(cmd)).await,
        ProbeOutcome::Failure("command timed out: \"cat /tmp/healthy\" timed out after 1s".into())
    );
}

#[tokio::test]
async fn grpc_probes_use_the_standard_health_service() {
    use tonic_health::ServingStatus;
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("db", ServingStatus::NotServing)
        .await;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l)),
    );
    let grpc = |service: &str| {
        probe(HandlerPlan::Grpc {
            port,
            service: service.into(),
        })
    };
    assert_eq!(
        run_probe(&target(), ProbeType::Liveness, &grpc("")).await,
        ProbeOutcome::Success
    );
    assert_eq!(
        run_probe(&target(), ProbeType::Liveness, &grpc("db")).await,
        ProbeOutcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())
    );
    let closed = free_port();
    let refused = probe(HandlerPlan::Grpc {
        port: closed,
        service: String::new(),
    });
    match run_probe(&target(), ProbeType::Liveness, &refused).await {
        ProbeOutcome::Failure(m) => assert!(
            m.starts_with(&format!(
                "timeout: failed to connect service \"127.0.0.1:{closed}\" within 1s"
            )),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

/// An HTTPS server with a self-signed certificate answering every connection with `response`.
async fn https_server(response: &'static str) -> u16 {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_probes_and_hooks_do_not_verify_the_certificate() {
    let port = https_server(R200).await;
    let https = |path: &str| {
        HandlerPlan::HttpGet(HttpGetPlan {
            scheme: HttpScheme::Https,
            host: None,
            port,
            path: path.into(),
            headers: vec![],
        })
    };
    assert_eq!(
        run_probe(&target(), ProbeType::Readiness, &probe(https("/healthz"))).await,
        ProbeOutcome::Success
    );
    let port500 = https_server(R500).await;
    let hook = HandlerPlan::HttpGet(HttpGetPlan {
        scheme: HttpScheme::Https,
        host: None,
        port: port500,
        path: "/".into(),
        headers: vec![],
    });
    assert_eq!(run_hook(&target(), &hook).await, Ok(()));
    // Plain HTTP spoken to an HTTPS port fails the handshake: a failure, not a hang.
    let (plain, _rx) = http_server(vec![R200]).await;
    let wrong = HandlerPlan::HttpGet(HttpGetPlan {
        scheme: HttpScheme::Https,
        host: None,
        port: plain,
        path: "/".into(),
        headers: vec![],
    });
    assert!(matches!(
        run_probe(&target(), ProbeType::Readiness, &probe(wrong)).await,
        ProbeOutcome::Failure(_)
    ));
}
