//! Intake errors as the API server and kubectl word them: metadata validation, names and
//! hostnames, decode errors with their paths (all of a document's), unknown-field hints and
//! syntax errors that name their file.

use podvisor_lifecycle::intake::{build_plan, parse, IntakeError};

fn pod(meta: &str, spec_extra: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {meta}\nspec:\n  containers:\n  - {{name: a, image: b, command: [x]}}\n{spec_extra}")
}

fn invalid(yaml: &str) -> Vec<String> {
    let m = parse(yaml, "f.yaml").unwrap();
    match build_plan(m.pods.into_iter().next().unwrap()) {
        Err(IntakeError::Invalid { errors, .. }) => {
            errors.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected an invalid pod, got {other:?}"),
    }
}

#[test]
fn pod_names_are_dns_subdomains_of_up_to_253_characters() {
    // 64 characters: a valid subdomain (no per-label limit); the hostname is cut to 63.
    let name = "a".repeat(64);
    let m = parse(&pod(&format!("{{name: {name}}}"), ""), "f.yaml").unwrap();
    let plan = build_plan(m.pods.into_iter().next().unwrap()).unwrap();
    assert_eq!(plan.key.name, name);
    assert_eq!(plan.hostname, "a".repeat(63));
    // The cut hostname loses a trailing '-' or '.'.
    let name = format!("{}.-b", "a".repeat(61));
    let m = parse(&pod(&format!("{{name: {name}}}"), ""), "f.yaml");
    let errs = build_plan(m.unwrap().pods.into_iter().next().unwrap());
    assert!(errs.is_err(), "'.-' makes it invalid");
    let name = format!("{}.b{}", "a".repeat(62), "c".repeat(20));
    let m = parse(&pod(&format!("{{name: {name}}}"), ""), "f.yaml").unwrap();
    let plan = build_plan(m.pods.into_iter().next().unwrap()).unwrap();
    assert_eq!(plan.hostname, "a".repeat(62));
    // 254: Kubernetes' message, the value shown.
    let name = "a".repeat(254);
    let errs = invalid(&pod(&format!("{{name: {name}}}"), ""));
    assert_eq!(
        errs,
        vec![format!(
            "metadata.name: Invalid value: \"{name}\": must be no more than 253 characters"
        )]
    );
    // A bad character: the regex message, with an example.
    let errs = invalid(&pod("{name: Web_1}", ""));
    assert_eq!(errs, vec!["metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]);
    // A NUL byte is shown as Go shows it.
    let errs = invalid(&pod("{name: \"web\\0\"}", ""));
    assert!(
        errs[0].starts_with(
            "metadata.name: Invalid value: \"web\\x00\": a lowercase RFC 1123 subdomain"
        ),
        "{errs:?}"
    );
}

#[test]
fn spec_hostname_wins_over_the_name() {
    let m = parse(&pod("{name: web}", "  hostname: other\n"), "f.yaml").unwrap();
    assert_eq!(
        build_plan(m.pods.into_iter().next().unwrap())
            .unwrap()
            .hostname,
        "other"
    );
}

#[test]
fn namespaces_are_dns_labels() {
    let ns = "n".repeat(64);
    let errs = invalid(&pod(&format!("{{name: x, namespace: {ns}}}"), ""));
    assert_eq!(
        errs,
        vec![format!(
            "metadata.namespace: Invalid value: \"{ns}\": must be no more than 63 characters"
        )]
    );
    let errs = invalid(&pod("{name: x, namespace: a.b}", ""));
    assert_eq!(
        errs,
        vec!["metadata.namespace: Invalid value: \"a.b\": must not contain dots"]
    );
}

#[test]
fn labels_and_annotations_are_validated_as_the_api_server_does() {
    let errs = invalid(&pod(
        &format!(
            "{{name: x, labels: {{\"a/b/c\": ok, good: \"{}\"}}, annotations: {{\"-bad\": v}}}}",
            "v".repeat(64)
        ),
        "",
    ));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(
        errs[0].starts_with(
            "metadata.labels: Invalid value: \"a/b/c\": a valid label key must consist of"
        ),
        "{errs:#?}"
    );
    assert_eq!(
        errs[1],
        format!(
            "metadata.labels: Invalid value: \"{}\": must be no more than 63 bytes",
            "v".repeat(64)
        )
    );
    assert!(
        errs[2].starts_with(
            "metadata.annotations: Invalid value: \"-bad\": name part must consist of"
        ),
        "{errs:#?}"
    );
    let big = "v".repeat(262_144);
    let errs = invalid(&pod(&format!("{{name: x, annotations: {{k: {big}}}}}"), ""));
    assert_eq!(
        errs,
        vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
    );
}

#[test]
fn container_and_volume_names_get_every_dns_label_message() {
    let long = "c".repeat(64);
    let errs = invalid(&format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\nspec:\n  containers:\n  - {{name: {long}, image: b, command: [x]}}\n  volumes:\n  - {{name: \"v\\0\", emptyDir: {{}}}}\n"));
    assert!(errs.contains(&format!("spec.containers[0].name: Invalid value: \"{long}\": must be no more than 63 characters")), "{errs:#?}");
    assert!(
        errs.iter().any(|e| e.starts_with(
            "spec.volumes[0].name: Invalid value: \"v\\x00\": a lowercase RFC 1123 label"
        )),
        "{errs:#?}"
    );
}

#[test]
fn every_decode_error_of_a_document_is_reported_with_its_path_and_value() {
    let e = parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  terminationGracePeriodSeconds: soon\n  containers:\n  - name: a\n    image: b\n    command: [x]\n    ports: [{containerPort: \"8080\"}]\n    tty: [1]\n",
        "pod.yaml",
    )
    .unwrap_err();
    let IntakeError::Decode {
        source_name,
        index,
        kind,
        errors,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(
        (source_name.as_str(), *index, kind.as_str()),
        ("pod.yaml", 1, "Pod")
    );
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "spec.containers[0].ports[0].containerPort: Invalid value: \"8080\": must be of type integer",
            "spec.containers[0].tty: Invalid value: [1]: must be of type boolean",
            "spec.terminationGracePeriodSeconds: Invalid value: \"soon\": must be of type integer",
        ]
    );
    assert_eq!(errors[0].reason(), "FieldValueTypeInvalid");
    assert_eq!(
        e.to_string(),
        format!("pod.yaml: document 1: Pod is invalid: {}", shown.join(", "))
    );
}

#[test]
fn unknown_fields_suggest_the_one_close_known_field() {
    let m = parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, Labels: {a: b}}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], comand: [y], zzz: 1}\n  restartPolicyy: Never\n",
        "f.yaml",
    )
    .unwrap();
    // The API server's wording is kept as is ...
    assert_eq!(
        m.warnings,
        vec![
            "f.yaml: document 1: unknown field \"metadata.Labels\"",
            "f.yaml: document 1: unknown field \"spec.containers[0].comand\"",
            "f.yaml: document 1: unknown field \"spec.containers[0].zzz\"",
            "f.yaml: document 1: unknown field \"spec.restartPolicyy\"",
        ]
    );
    // ... and the hint is added for a person.
    assert_eq!(
        m.warnings_with_hints(),
        vec![
            "f.yaml: document 1: unknown field \"metadata.Labels\" (did you mean \"labels\"?)",
            "f.yaml: document 1: unknown field \"spec.containers[0].comand\" (did you mean \"command\"?)",
            "f.yaml: document 1: unknown field \"spec.containers[0].zzz\"",
            "f.yaml: document 1: unknown field \"spec.restartPolicyy\" (did you mean \"restartPolicy\"?)",
        ]
    );
    assert_eq!(m.unknown_fields[1].suggestion.as_deref(), Some("command"));
    assert_eq!(m.unknown_fields[2].suggestion, None);
}

#[test]
fn syntax_errors_name_the_file_and_do_not_say_error_themselves() {
    let e = parse("a: [", "<stdin>").unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("<stdin>: "), "{s}");
    assert!(!s.contains("<input>"), "{s}");
    assert!(!s.contains("error:"), "{s}");
    assert!(s.contains("<stdin>:1:"), "{s}");
}

#[test]
fn a_containers_tty_is_said_to_be_not_honoured_but_is_no_error() {
    let m = podvisor_lifecycle::intake::parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: t}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sh], tty: true, stdin: true}\n",
        "t.yaml",
    )
    .expect("valid");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(m.unsupported.len(), 1, "{:?}", m.unsupported);
    assert!(
        m.unsupported[0].starts_with("t.yaml: document 1: spec.containers[0].tty: podvisor does not give a container's main process a terminal"),
        "{}",
        m.unsupported[0]
    );
}
