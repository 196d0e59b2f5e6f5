//! Lifecycle handlers and probe mechanisms, implemented once and shared by hooks and probes.
//! Mirrors `handlerRunner.Run` (pkg/kubelet/lifecycle/handlers.go) and the prober's
//! exec/http/tcp/grpc probers (pkg/probe/*); see kubelet-semantics.md §4 and §5.3.
//!
//! # Caveats
//! * The kubelet dials probes and HTTP hooks from the node's network namespace to the pod IP;
//!   podvisor's pod IPs exist only inside each pod's namespace, so it dials from there.
//! * HTTPS is spoken without verifying the certificate, as the kubelet does; the hooks'
//!   HTTPS→HTTP fallback (`LifecycleHTTPFallback`) is not implemented.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use podvisor_lifecycle::backoff::go_duration;
use podvisor_lifecycle::observation::{HandlerFailure, ProbeOutcome};
use podvisor_lifecycle::plan::{HandlerPlan, HttpGetPlan, HttpScheme, ProbePlan, ProbeType};

use crate::runtime::{ContainerId, ExecOutput, Runtime, RuntimeError, SandboxId};

/// The Kubernetes minor version podvisor claims in User-Agent headers.
pub const KUBE_VERSION: &str = "1.32";
/// Probe output and HTTP bodies are read up to 10 KiB.
pub const MAX_OUTPUT: usize = 10 * 1024;

/// Names for messages.
#[derive(Debug, Clone, Default)]
pub struct HandlerContext {
    /// Container name.
    pub container: String,
    /// Pod name.
    pub pod: String,
    /// Namespace.
    pub namespace: String,
    /// Pod uid.
    pub uid: String,
    /// The container's ports.
    pub ports: Vec<(Option<String>, u16)>,
}

/// What a handler may do to its container.
pub trait HandlerTarget: Send + Sync {
    /// Run a command in the container (CRI ExecSync).
    fn exec(
        &self,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<ExecOutput, RuntimeError>> + Send;
    /// Open a TCP connection from inside the pod's network namespace.
    fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = Result<tokio::net::TcpStream, RuntimeError>> + Send;
    /// The pod IP.
    fn pod_ip(&self) -> Option<String>;
}

/// A container of a runtime as a handler target.
pub struct RuntimeTarget<R: Runtime> {
    /// The runtime.
    pub runtime: Arc<R>,
    /// The pod sandbox.
    pub sandbox: SandboxId,
    /// The container.
    pub container: ContainerId,
    /// The pod IP.
    pub pod_ip: Option<String>,
    /// Names for messages.
    pub context: HandlerContext,
}

impl<R: Runtime> HandlerTarget for RuntimeTarget<R> {
    fn exec(
        &self,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<ExecOutput, RuntimeError>> + Send {
        self.runtime.exec_sync(&self.container, argv, timeout)
    }
    fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = Result<tokio::net::TcpStream, RuntimeError>> + Send {
        self.runtime.connect_tcp(&self.sandbox, addr, timeout)
    }
    fn pod_ip(&self) -> Option<String> {
        self.pod_ip.clone()
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("dial tcp: lookup {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("dial tcp: lookup {host}: no such host"))
}

fn host_of<T: HandlerTarget>(target: &T, host: &Option<String>) -> Result<String, String> {
    match host {
        Some(h) if !h.is_empty() => Ok(h.clone()),
        _ => target
            .pod_ip()
            .ok_or_else(|| "failed to find networking container".to_string()),
    }
}

/// `dial tcp <addr>: connect: connection refused`, Go's wording.
fn dial_error(addr: SocketAddr, e: &RuntimeError) -> String {
    let cause = root_cause(e);
    let cause = cause
        .split(" (os error")
        .next()
        .unwrap_or(&cause)
        .to_lowercase();
    format!("dial tcp {addr}: connect: {cause}")
}

/// Accepts any server certificate (the kubelet's probes and hooks set InsecureSkipVerify).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client session over `stream`, certificate unverified.
async fn tls_connect(
    host: &str,
    stream: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())
}

struct HttpResult {
    status: u16,
    body: Vec<u8>,
    location: Option<String>,
}

async fn http_get<T: HandlerTarget>(
    target: &T,
    h: &HttpGetPlan,
    user_agent: &str,
    timeout: Option<Duration>,
) -> Result<HttpResult, String> {
    let host = host_of(target, &h.host)?;
    let mut path = h.path.clone();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let scheme = if h.scheme == HttpScheme::Https {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{url_host}:{}{path}", h.port);
    let mut redirects = 0;
    let mut current_path = path;
    loop {
        let addr = resolve(&host, h.port)
            .await
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let connect_timeout = timeout.unwrap_or(Duration::from_secs(3600));
        let stream = target
            .connect(addr, connect_timeout)
            .await
            .map_err(|e| format!("Get {url:?}: {}", dial_error(addr, &e)))?;
        let mut sender = if h.scheme == HttpScheme::Https {
            let tls = tls_connect(&host, stream)
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
            tokio::spawn(conn);
            sender
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
            tokio::spawn(conn);
            sender
        };
        let mut req = hyper::Request::get(&current_path);
        let mut has_ua = false;
        let mut accept: Option<String> = None;
        let mut host_header = format!("{url_host}:{}", h.port);
        for (k, v) in &h.headers {
            if k.eq_ignore_ascii_case("host") {
                host_header = v.clone();
                continue;
            }
            if k.eq_ignore_ascii_case("user-agent") {
                has_ua = true;
            }
            if k.eq_ignore_ascii_case("accept") {
                accept = Some(v.clone());
                continue;
            }
            req = req.header(k.as_str(), v.as_str());
        }
        if !has_ua {
            req = req.header("User-Agent", user_agent);
        }
        match accept {
            None => req = req.header("Accept", "*/*"),
            Some(a) if !a.is_empty() => req = req.header("Accept", a),
            Some(_) => {}
        }
        req = req
            .header("Host", host_header)
            .header("Connection", "close");
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("Get {url:?}: {e}"))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        let mut b = resp.into_body();
        while body.len() < MAX_OUTPUT {
            match b.frame().await {
                Some(Ok(f)) => {
                    if let Some(d) = f.data_ref() {
                        body.extend_from_slice(d);
                    }
                }
                _ => break,
            }
        }
        body.truncate(MAX_OUTPUT);
        // Same-host redirects are followed, up to 10.
        if (300..400).contains(&status) {
            if let Some(loc) = &location {
                let same_host = loc.starts_with('/');
                if same_host {
                    redirects += 1;
                    if redirects > 10 {
                        return Err(format!("Get {loc:?}: stopped after 10 redirects"));
                    }
                    current_path = loc.clone();
                    continue;
                }
            }
        }
        return Ok(HttpResult {
            status,
            body,
            location,
        });
    }
}

/// Runs a postStart/preStop handler. Hooks have no timeout; any HTTP response is success.
pub async fn run_hook<T: HandlerTarget>(
    target: &T,
    handler: &HandlerPlan,
) -> Result<(), HandlerFailure> {
    let fail = |error: String, output: String| Err(HandlerFailure { error, output });
    match handler {
        HandlerPlan::Exec { command } => match target.exec(command, None).await {
            Ok(out) => {
                let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&out.stderr));
                if out.exit_code == 0 {
                    Ok(())
                } else {
                    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                    fail(
                        format!(
                            "command '{}' exited with {}: {stderr}",
                            command.join(" "),
                            out.exit_code
                        ),
                        output,
                    )
                }
            }
            Err(e) => fail(crate::error::error_chain(&e), String::new()),
        },
        HandlerPlan::HttpGet(h) => {
            let ua = format!("kube-lifecycle/{KUBE_VERSION}");
            match http_get(target, h, &ua, None).await {
                Ok(_) => Ok(()),
                Err(e) => fail(e, String::new()),
            }
        }
        HandlerPlan::Sleep { seconds } => {
            tokio::time::sleep(Duration::from_secs(u64::try_from(*seconds).unwrap_or(0))).await;
            Ok(())
        }
        HandlerPlan::TcpSocket { .. } | HandlerPlan::Grpc { .. } => {
            fail(format!("invalid handler: {handler:?}"), String::new())
        }
    }
}

/// One probe attempt with the kubelet's retries on mechanism errors (`runProbeWithRetries`).
/// The outcome does not depend on the probe type; callers word their events with it.
pub async fn run_probe<T: HandlerTarget>(
    target: &T,
    probe_type: ProbeType,
    probe: &ProbePlan,
) -> ProbeOutcome {
    let _ = probe_type;
    let mut last = ProbeOutcome::Error("no attempt".into());
    for _ in 0..3 {
        last = probe_once(target, probe).await;
        if !matches!(last, ProbeOutcome::Error(_)) {
            break;
        }
    }
    last
}

async fn probe_once<T: HandlerTarget>(target: &T, probe: &ProbePlan) -> ProbeOutcome {
    let timeout = probe.timeout();
    match &probe.handler {
        HandlerPlan::Exec { command } => match target.exec(command, Some(timeout)).await {
            Ok(out) => {
                let mut output = out.stdout;
                output.extend_from_slice(&out.stderr);
                output.truncate(MAX_OUTPUT);
                let output = String::from_utf8_lossy(&output).into_owned();
                if out.exit_code == 0 {
                    ProbeOutcome::Success
                } else {
                    ProbeOutcome::Failure(output)
                }
            }
            Err(RuntimeError::ExecTimeout { .. }) => ProbeOutcome::Failure(format!(
                "command timed out: \"{}\" timed out after {}",
                command.join(" "),
                go_duration(timeout)
            )),
            Err(e) => ProbeOutcome::Error(crate::error::error_chain(&e)),
        },
        HandlerPlan::HttpGet(h) => {
            let ua = format!("kube-probe/{KUBE_VERSION}");
            match tokio::time::timeout(timeout, http_get(target, h, &ua, Some(timeout))).await {
                Err(_) => ProbeOutcome::Failure(format!(
                    "Get \"{}://{}:{}{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                    if h.scheme == HttpScheme::Https { "https" } else { "http" },
                    host_of(target, &h.host).unwrap_or_default(),
                    h.port,
                    h.path
                )),
                Ok(Err(e)) => ProbeOutcome::Failure(e),
                Ok(Ok(r)) if (200..300).contains(&r.status) => ProbeOutcome::Success,
                Ok(Ok(r)) if (300..400).contains(&r.status) && r.location.is_some() => ProbeOutcome::Warning(format!(
                    "Probe terminated redirects, Response body: {}",
                    String::from_utf8_lossy(&r.body)
                )),
                Ok(Ok(r)) if (300..400).contains(&r.status) => ProbeOutcome::Success,
                Ok(Ok(r)) => ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {}", r.status)),
            }
        }
        HandlerPlan::TcpSocket { host, port } => {
            let host = match host_of(target, host) {
                Ok(h) => h,
                Err(e) => return ProbeOutcome::Failure(e),
            };
            let addr = match resolve(&host, *port).await {
                Ok(a) => a,
                Err(e) => return ProbeOutcome::Failure(e),
            };
            match target.connect(addr, timeout).await {
                Ok(_) => ProbeOutcome::Success,
                Err(e) => ProbeOutcome::Failure(dial_error(addr, &e)),
            }
        }
        HandlerPlan::Grpc { port, service } => grpc_probe(target, *port, service, timeout).await,
        HandlerPlan::Sleep { .. } => ProbeOutcome::Error("sleep is not a probe handler".into()),
    }
}

async fn grpc_probe<T: HandlerTarget>(
    target: &T,
    port: u16,
    service: &str,
    timeout: Duration,
) -> ProbeOutcome {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let Some(ip) = target.pod_ip() else {
        return ProbeOutcome::Failure("failed to find networking container".into());
    };
    let addr = match resolve(&ip, port).await {
        Ok(a) => a,
        Err(e) => return ProbeOutcome::Failure(e),
    };
    let t = go_duration(timeout);
    let stream = match target.connect(addr, timeout).await {
        Ok(s) => s,
        Err(e) => {
            return ProbeOutcome::Failure(format!(
                "timeout: failed to connect service \"{addr}\" within {t}: {}",
                dial_error(addr, &e)
            ))
        }
    };
    let slot = Arc::new(std::sync::Mutex::new(Some(stream)));
    let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
        Ok(e) => e
            .user_agent(format!("kube-probe/{KUBE_VERSION}"))
            .unwrap_or_else(|_| tonic::transport::Endpoint::from_static("http://127.0.0.1")),
        Err(e) => return ProbeOutcome::Error(e.to_string()),
    };
    let connector = tower::service_fn(move |_uri: hyper::Uri| {
        let slot = slot.clone();
        async move {
            let s = slot.lock().ok().and_then(|mut g| g.take());
            s.map(TokioIo::new)
                .ok_or_else(|| std::io::Error::other("connection already used"))
        }
    });
    let channel =
        match tokio::time::timeout(timeout, endpoint.connect_with_connector(connector)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return ProbeOutcome::Failure(format!(
                    "error: failed to connect service at \"{addr}\": {e}"
                ))
            }
            Err(_) => {
                return ProbeOutcome::Failure(format!(
                    "timeout: failed to connect service \"{addr}\" within {t}"
                ))
            }
        };
    let mut client = HealthClient::new(channel);
    let req = HealthCheckRequest {
        service: service.to_string(),
    };
    match tokio::time::timeout(timeout, client.check(req)).await {
        Err(_) => ProbeOutcome::Failure(format!("timeout: health rpc did not complete within {t}")),
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => ProbeOutcome::Failure(format!(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            status.message()
        )),
        Ok(Err(status)) => ProbeOutcome::Failure(format!("error: health rpc probe failed: {}", status.message())),
        Ok(Ok(resp)) => {
            let st = resp.into_inner().status;
            if st == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
                ProbeOutcome::Success
            } else {
                let name = tonic_health::pb::health_check_response::ServingStatus::try_from(st)
                    .map(|s| s.as_str_name().to_string())
                    .unwrap_or_else(|_| st.to_string());
                ProbeOutcome::Failure(format!("service unhealthy (responded with \"{name}\")"))
            }
        }
    }
}
