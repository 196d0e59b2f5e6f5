//! The API in-process (no sockets) over the scripted runtime: bad input of every kind gets a
//! proper `Status` with the right code, never a panic, a 5xx or a hang.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use podvisor_api::{router, ApiState};
use podvisor_engine::runtime::fake::FakeRuntime;
use podvisor_engine::EngineConfig;
use tower::ServiceExt;

fn app(dir: &tempfile::TempDir) -> axum::Router {
    let engine = podvisor_engine::start_in_memory(
        FakeRuntime::new(),
        EngineConfig {
            state_dir: dir.path().to_path_buf(),
            node_name: "node".into(),
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: true,
        },
    );
    router(Arc::new(ApiState {
        engine,
        token: Some("secret".into()),
        address: "127.0.0.1:1".into(),
    }))
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    ct: &str,
    body: Vec<u8>,
    token: bool,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ct);
    if token {
        req = req.header("authorization", "Bearer secret");
    }
    let req = req.body(Body::from(body)).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), app.clone().oneshot(req))
        .await
        .expect("no hang")
        .unwrap();
    let status = resp.status();
    let bytes = tokio::time::timeout(
        Duration::from_secs(5),
        axum::body::to_bytes(resp.into_body(), 64 << 20),
    )
    .await
    .expect("body ends")
    .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"a","image":"b","command":["sleep","60"]}]}}"#;

#[tokio::test]
async fn each_kind_of_bad_request_gets_its_status_code() {
    let d = tempfile::tempdir().unwrap();
    let app = app(&d);
    let pods = "/api/v1/namespaces/default/pods";
    let (c, s) = call(&app, "GET", pods, "application/json", vec![], false).await;
    assert_eq!(
        (c, s["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Unauthorized"))
    );
    let (c, _) = call(
        &app,
        "POST",
        pods,
        "application/json",
        b"{not json".to_vec(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::BAD_REQUEST);
    let (c, s) = call(
        &app,
        "POST",
        pods,
        "application/json",
        vec![b' '; 4 << 20],
        true,
    )
    .await;
    assert_eq!(
        (c, s["kind"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("Status"))
    );
    let (c, _) = call(
        &app,
        "POST",
        pods,
        "text/plain",
        POD.as_bytes().to_vec(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (c, _) = call(
        &app,
        "POST",
        pods,
        "application/json",
        POD.as_bytes().to_vec(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::CREATED);
    let (c, s) = call(
        &app,
        "POST",
        pods,
        "application/json",
        POD.as_bytes().to_vec(),
        true,
    )
    .await;
    assert_eq!(
        (c, s["reason"].as_str()),
        (StatusCode::CONFLICT, Some("AlreadyExists"))
    );
    let invalid = POD.replace("\"image\":\"b\",", "");
    let (c, s) = call(
        &app,
        "POST",
        pods,
        "application/json",
        invalid.into_bytes(),
        true,
    )
    .await;
    assert_eq!(
        (c, s["reason"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("Invalid"))
    );
    assert_eq!(
        s["details"]["causes"][0]["field"],
        "spec.containers[0].image"
    );
    let (c, s) = call(
        &app,
        "GET",
        &format!("{pods}/nope"),
        "application/json",
        vec![],
        true,
    )
    .await;
    assert_eq!(
        (c, s["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("pods \"nope\" not found"))
    );
    let (c, _) = call(
        &app,
        "GET",
        "/api/v1/nowhere",
        "application/json",
        vec![],
        true,
    )
    .await;
    assert_eq!(c, StatusCode::NOT_FOUND);
    let (c, _) = call(
        &app,
        "GET",
        &format!("{pods}?fieldSelector=spec.bogus%3Dx"),
        "application/json",
        vec![],
        true,
    )
    .await;
    assert_eq!(c, StatusCode::BAD_REQUEST);
    let (c, _) = call(
        &app,
        "PATCH",
        &format!("{pods}/web"),
        "application/merge-patch+json",
        br#"{"spec":{"restartPolicy":"Never"}}"#.to_vec(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::UNPROCESSABLE_ENTITY);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

#[tokio::test]
async fn random_requests_never_panic_or_answer_5xx() {
    let d = tempfile::tempdir().unwrap();
    let app = app(&d);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let paths = [
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/pods/web",
        "/api/v1/namespaces/default/pods/web/log",
        "/api/v1/namespaces/default/pods/web/log?previous=true&container=zz",
        "/api/v1/namespaces/default/pods/web/exec?command=ls",
        "/api/v1/namespaces/default/pods/web/portforward",
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/configmaps/c",
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/x/events?fieldSelector=involvedObject.name%3Dweb",
        "/api/v1/namespaces/nope",
        "/version",
        "/api",
        "/apis",
        "/openapi/v3",
        "/api/v1/pods?labelSelector=a%3Db",
        "/api/v1/namespaces/default/pods?watch=true&resourceVersion=1&timeoutSeconds=0",
    ];
    let cts = [
        "application/json",
        "application/yaml",
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/apply-patch+yaml",
        "text/plain",
    ];
    let mut bodies: Vec<Vec<u8>> = vec![
        vec![],
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        POD.as_bytes().to_vec(),
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}"#
            .to_vec(),
        br#"[{"op":"remove","path":"/nope"}]"#.to_vec(),
        br#"{"gracePeriodSeconds":-5}"#.to_vec(),
        br#"{"metadata":{"name":5}}"#.to_vec(),
    ];
    for _ in 0..40 {
        let mut b = POD.as_bytes().to_vec();
        let at = (rng.next() % b.len() as u64) as usize;
        b[at] = (rng.next() & 0x7f) as u8;
        bodies.push(b);
    }
    for _ in 0..400 {
        let (m, p, ct) = (*rng.pick(&methods), *rng.pick(&paths), *rng.pick(&cts));
        let body = rng.pick(&bodies).clone();
        let (c, s) = call(&app, m, p, ct, body, true).await;
        assert!(!c.is_server_error(), "{m} {p} ({ct}) answered {c}: {s}");
        if c.is_client_error() {
            assert_eq!(
                s["kind"], "Status",
                "{m} {p} ({ct}) answered {c} without a Status: {s}"
            );
        }
    }
}

#[tokio::test]
async fn every_status_carries_details_and_data_is_limited_to_one_mebibyte() {
    let d = tempfile::tempdir().unwrap();
    let app = app(&d);
    // An unknown path (kubectl debug's ephemeralcontainers before they are served): details
    // present, with no name.
    let (c, s) = call(
        &app,
        "PATCH",
        "/api/v1/namespaces/default/pods/x/nosuchsubresource",
        "application/strategic-merge-patch+json",
        b"{}".to_vec(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::NOT_FOUND);
    assert_eq!(s["details"], serde_json::json!({}), "{s}");
    assert_eq!(
        s["message"],
        "the server could not find the requested resource"
    );
    let (_, s) = call(
        &app,
        "GET",
        "/api/v1/namespaces/default/pods/none",
        "application/json",
        vec![],
        true,
    )
    .await;
    assert_eq!(s["details"]["name"], "none");
    assert_eq!(s["details"]["kind"], "pods");
    // A ConfigMap over 1 MiB is invalid.
    let big = "x".repeat(1024 * 1024);
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "big"}, "data": {"k": big}});
    let (c, s) = call(
        &app,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        body.to_string().into_bytes(),
        true,
    )
    .await;
    assert_eq!(c, StatusCode::UNPROCESSABLE_ENTITY, "{s}");
    assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueTooLong");
    assert_eq!(s["details"]["causes"][0]["field"], "data");
}
