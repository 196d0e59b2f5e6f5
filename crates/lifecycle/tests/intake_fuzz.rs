//! Fuzz-style robustness of manifest intake: truncated, mutated and hostile documents give
//! errors or warnings, never a panic. Deterministic (a fixed xorshift seed), well under a second.

use podvisor_lifecycle::intake::{build_plan, parse};

const VALID: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {A: "1"}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 20
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, "echo init"]
  - name: side
    image: busybox
    restartPolicy: Always
    command: [sleep, "600"]
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "sleep 600"]
    ports: [{name: http, containerPort: 8080}]
    env:
    - {name: A, valueFrom: {configMapKeyRef: {name: cfg, key: A}}}
    lifecycle:
      postStart: {httpGet: {port: http, path: /up}}
      preStop: {sleep: {seconds: 5}}
    livenessProbe: {exec: {command: ["true"]}, periodSeconds: 3}
    readinessProbe: {httpGet: {port: 8080}}
"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

fn feed(text: &str) {
    let r = std::panic::catch_unwind(|| {
        if let Ok(m) = parse(text, "fuzz.yaml") {
            for p in m.pods {
                if let Err(e) = build_plan(p) {
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    });
    assert!(r.is_ok(), "panicked on input:\n{text}");
}

#[test]
fn the_valid_manifest_builds() {
    let m = parse(VALID, "valid.yaml").unwrap();
    assert_eq!(m.pods.len(), 1);
    assert_eq!(m.config_maps.len(), 1);
    let plan = build_plan(m.pods.into_iter().next().unwrap()).unwrap();
    assert_eq!(plan.init_containers.len(), 2);
}

#[test]
fn truncations_never_panic() {
    for cut in 0..VALID.len() {
        if VALID.is_char_boundary(cut) {
            feed(&VALID[..cut]);
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pieces = [
        "",
        "-",
        ":",
        "[",
        "]",
        "{",
        "}",
        "'",
        "\"",
        "\n",
        "  ",
        "null",
        "-1",
        "99999999999999999999",
        "1e400",
        "!!binary",
        "&a",
        "*a",
        "<<: *a",
        "\t",
        "kind: List",
        "\u{0}",
        "é",
        "0x10",
    ];
    for _ in 0..3000 {
        let mut s = VALID.to_string().into_bytes();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(s.len());
            match rng.below(3) {
                0 => {
                    s.remove(at);
                }
                1 => {
                    let p = pieces[rng.below(pieces.len())];
                    for (i, b) in p.bytes().enumerate() {
                        s.insert(at + i, b);
                    }
                }
                _ => s[at] = (rng.next() & 0x7f) as u8,
            }
        }
        feed(&String::from_utf8_lossy(&s));
    }
}

#[test]
fn hostile_documents_give_errors_not_panics() {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases = [
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 5}",
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {terminationGracePeriodSeconds: -5, containers: [{name: a, image: b, command: [x]}]}",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: b, command: [x], lifecycle: {preStop: {}}}]}",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: b, command: [x], livenessProbe: {httpGet: {port: nope}}}]}",
        "kind: Pod",
        "- 1\n- 2",
        "a: &a [*a]",
        deep.as_str(),
        "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod}]",
    ];
    for c in cases {
        feed(c);
    }
}

#[test]
fn unknown_fields_are_warned_with_their_path() {
    let m = parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: a\n    image: b\n    command: [x]\n    lifecycle: {preStopp: {exec: {command: [z]}}}\n  restartPolicyy: Never\n",
        "f.yaml",
    )
    .unwrap();
    assert_eq!(
        m.warnings,
        vec![
            "f.yaml: document 1: unknown field \"spec.containers[0].lifecycle.preStopp\""
                .to_string(),
            "f.yaml: document 1: unknown field \"spec.restartPolicyy\"".to_string(),
        ]
    );
    // A complete, valid manifest gives no warning at all.
    assert!(parse(VALID, "valid.yaml").unwrap().warnings.is_empty());
}

fn invalid(yaml: &str) -> String {
    let m = parse(yaml, "f.yaml").unwrap();
    build_plan(m.pods.into_iter().next().unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn validation_errors_name_the_field_in_kubernetes_style() {
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], lifecycle: {preStop: {sleep: {seconds: 90}}}}\n");
    assert_eq!(e, "Pod \"x\" is invalid: spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 90: must be less than or equal to terminationGracePeriodSeconds (30)");
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x]}\n  - {name: a, image: b, command: [x]}\n");
    assert!(
        e.contains("spec.containers[1].name: Duplicate value: \"a\""),
        "{e}"
    );
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - {name: a, image: b, command: [x]}\n");
    assert!(e.contains("spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""), "{e}");
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  initContainers:\n  - {name: i, image: b, command: [x], livenessProbe: {exec: {command: [z]}}}\n  containers:\n  - {name: a, image: b, command: [x], livenessProbe: {exec: {command: [z]}, successThreshold: 2}}\n");
    assert!(e.contains("spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"), "{e}");
    assert!(
        e.contains(
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"
        ),
        "{e}"
    );
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b}\n");
    assert!(
        e.contains("spec.containers[0].command: Required value"),
        "{e}"
    );
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], volumeMounts: [{name: v, mountPath: data}]}\n");
    assert!(
        e.contains("spec.containers[0].volumeMounts[0].name: Not found: \"v\""),
        "{e}"
    );
}

#[test]
fn validation_errors_are_typed_field_errors() {
    use podvisor_lifecycle::field::ErrorType;
    use podvisor_lifecycle::intake::IntakeError;
    let m = parse("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - {name: a, image: b, command: [x], lifecycle: {preStop: {sleep: {seconds: 90}}}}\n", "f.yaml").unwrap();
    let Err(IntakeError::Invalid { pod, errors }) = build_plan(m.pods.into_iter().next().unwrap())
    else {
        panic!("expected an invalid pod");
    };
    assert_eq!(pod, "x");
    let seconds = errors
        .iter()
        .find(|e| e.field == "spec.containers[0].lifecycle.preStop.sleep.seconds")
        .unwrap();
    assert_eq!(seconds.type_, ErrorType::Invalid);
    assert_eq!(seconds.reason(), "FieldValueInvalid");
    assert_eq!(seconds.bad_value.as_deref(), Some("90"));
    assert_eq!(
        seconds.message(),
        "Invalid value: 90: must be less than or equal to terminationGracePeriodSeconds (30)"
    );
    let policy = errors
        .iter()
        .find(|e| e.field == "spec.restartPolicy")
        .unwrap();
    assert_eq!(policy.type_, ErrorType::NotSupported);
    assert_eq!(policy.bad_value.as_deref(), Some("\"Sometimes\""));
    assert_eq!(
        policy.detail,
        "supported values: \"Always\", \"Never\", \"OnFailure\""
    );
}

#[test]
fn an_unknown_stop_signal_is_unsupported_with_the_kubernetes_list() {
    let e = invalid("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], lifecycle: {stopSignal: SIGFOO}}\n");
    assert_eq!(
        e,
        "Pod \"x\" is invalid: spec.containers[0].lifecycle.stopSignal: Unsupported value: \"SIGFOO\": supported values: \
\"SIGABRT\", \"SIGALRM\", \"SIGBUS\", \"SIGCHLD\", \"SIGCLD\", \"SIGCONT\", \"SIGFPE\", \"SIGHUP\", \"SIGILL\", \"SIGINT\", \
\"SIGIO\", \"SIGIOT\", \"SIGKILL\", \"SIGPIPE\", \"SIGPOLL\", \"SIGPROF\", \"SIGPWR\", \"SIGQUIT\", \"SIGRTMAX\", \"SIGRTMAX-1\", \
\"SIGRTMAX-10\", \"SIGRTMAX-11\", \"SIGRTMAX-12\", \"SIGRTMAX-13\", \"SIGRTMAX-14\", \"SIGRTMAX-2\", \"SIGRTMAX-3\", \
\"SIGRTMAX-4\", \"SIGRTMAX-5\", \"SIGRTMAX-6\", \"SIGRTMAX-7\", \"SIGRTMAX-8\", \"SIGRTMAX-9\", \"SIGRTMIN\", \"SIGRTMIN+1\", \
\"SIGRTMIN+10\", \"SIGRTMIN+11\", \"SIGRTMIN+12\", \"SIGRTMIN+13\", \"SIGRTMIN+14\", \"SIGRTMIN+15\", \"SIGRTMIN+2\", \
\"SIGRTMIN+3\", \"SIGRTMIN+4\", \"SIGRTMIN+5\", \"SIGRTMIN+6\", \"SIGRTMIN+7\", \"SIGRTMIN+8\", \"SIGRTMIN+9\", \"SIGSEGV\", \
\"SIGSTKFLT\", \"SIGSTOP\", \"SIGSYS\", \"SIGTERM\", \"SIGTRAP\", \"SIGTSTP\", \"SIGTTIN\", \"SIGTTOU\", \"SIGURG\", \"SIGUSR1\", \
\"SIGUSR2\", \"SIGVTALRM\", \"SIGWINCH\", \"SIGXCPU\", \"SIGXFSZ\""
    );
    // A supported name becomes the plan's signal; none means SIGTERM.
    let plan = |sig: &str| {
        let m = parse(&format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\nspec:\n  containers:\n  - {{name: a, image: b, command: [x]{sig}}}\n"), "f.yaml").unwrap();
        build_plan(m.pods.into_iter().next().unwrap())
            .unwrap()
            .containers[0]
            .stop_signal
    };
    use podvisor_lifecycle::signal::Signal;
    assert_eq!(
        plan(", lifecycle: {stopSignal: SIGRTMIN+1}"),
        Signal::SIGRTMINPLUS1
    );
    assert_eq!(plan(", lifecycle: {stopSignal: SIGQUIT}"), Signal::SIGQUIT);
    assert_eq!(plan(""), Signal::SIGTERM);
}
