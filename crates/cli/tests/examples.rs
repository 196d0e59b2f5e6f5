//! Every manifest in `examples/` runs under `podvisor run` as its `# Demo:` line shows it: the
//! input is accepted (no exit code 2), every pod of the file ends in the phase its `# Expect:`
//! line names, events were recorded, and the run ends with every process gone. The examples run
//! side by side, each with its own state directory.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// The value of a `# <key>: ...` comment line.
fn comment(file: &PathBuf, key: &str) -> String {
    let text = std::fs::read_to_string(file).expect("example readable");
    let prefix = format!("# {key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("{} has no `{prefix}` line", file.display()))
}

/// The pod names a manifest declares.
fn declared_pods(file: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("example readable");
    let intake = podvisor_lifecycle::intake::parse(&text, &file.display().to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    intake
        .pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

#[test]
fn every_example_runs_and_reports_its_pods() {
    let files = examples();
    assert!(files.len() >= 6, "examples found: {files:?}");
    let runs: Vec<_> = files
        .iter()
        .map(|f| {
            let dir = tempfile::tempdir().expect("temp dir");
            let demo = comment(f, "Demo");
            let stop = demo
                .split_whitespace()
                .skip_while(|w| *w != "--stop-after")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: no --stop-after in {demo:?}", f.display()))
                .to_string();
            let child = Command::new(env!("CARGO_BIN_EXE_podvisor"))
                .args([
                    "run",
                    "--no-color",
                    "-o",
                    "json",
                    "--stop-after",
                    &stop,
                    "-f",
                ])
                .arg(f)
                .arg("--state-dir")
                .arg(dir.path().join("state"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("podvisor starts");
            (f.clone(), dir, child)
        })
        .collect();
    for (file, _dir, child) in runs {
        let out = child.wait_with_output().expect("podvisor finishes");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = file.display();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{name}: exit code {code:?}; stderr:\n{stderr}"
        );
        let list: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: -o json is not JSON ({e}); stderr:\n{stderr}"));
        let items = list["items"].as_array().cloned().unwrap_or_default();
        for pod in declared_pods(&file) {
            let reported = items
                .iter()
                .find(|i| i["kind"] == "Pod" && i["metadata"]["name"] == pod.as_str())
                .unwrap_or_else(|| panic!("{name}: pod {pod} not reported; stderr:\n{stderr}"));
            let phase = reported["status"]["phase"].as_str().unwrap_or_default();
            let expect = comment(&file, "Expect");
            let want = expect
                .split(|c: char| !c.is_alphabetic())
                .next()
                .unwrap_or_default();
            assert_eq!(
                phase, want,
                "{name}: pod {pod} ended {phase:?}, the example expects {expect:?}; stderr:\n{stderr}"
            );
            assert!(
                items.iter().any(|i| i["kind"] == "Event"
                    && i["reason"] == "Started"
                    && i["involvedObject"]["name"] == pod.as_str()),
                "{name}: pod {pod} has no Started event; stderr:\n{stderr}"
            );
        }
    }
}
