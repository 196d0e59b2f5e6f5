//! Reading `-f` inputs (files, directories, `-` for stdin) into validated pod plans, ConfigMaps
//! and Secrets, with warnings and Kubernetes-style validation errors.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use podvisor_engine::objects::Objects;
use podvisor_lifecycle::intake::{build_plan, parse as parse_manifests};
use podvisor_lifecycle::plan::PodPlan;

/// Everything the inputs held.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Validated pods, in input order.
    pub plans: Vec<PodPlan>,
    /// ConfigMaps and Secrets.
    pub objects: Objects,
    /// Warnings to show.
    pub warnings: Vec<String>,
    /// Validation errors; non-empty means bad input.
    pub errors: Vec<String>,
}

fn files_of(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect();
        files.sort();
        Ok(files)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Reads and validates every `-f` argument.
pub fn load(args: &[String]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    if args.is_empty() {
        bail!("no input: give at least one -f FILE (or -f - for standard input)");
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    for a in args {
        if a == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            sources.push(("<stdin>".into(), text));
            continue;
        }
        let files = files_of(Path::new(a))?;
        if files.is_empty() {
            bail!("{a}: no .yaml, .yml or .json files in this directory");
        }
        for f in files {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            sources.push((f.display().to_string(), text));
        }
    }
    for (source, text) in sources {
        match parse_manifests(&text, &source) {
            Ok(m) => {
                // A person reads these: unknown fields carry the close known field, if any.
                inputs.warnings.extend(m.warnings_with_hints());
                inputs.warnings.extend(m.unsupported.iter().cloned());
                inputs.objects.config_maps.extend(m.config_maps);
                inputs.objects.secrets.extend(m.secrets);
                for mut pod in m.pods {
                    pod.metadata.uid.get_or_insert_with(new_uid);
                    match build_plan(pod) {
                        Ok(plan) => {
                            if inputs.plans.iter().any(|p| p.key == plan.key) {
                                inputs.errors.push(format!(
                                    "{source}: pods \"{}\" already exists in namespace \"{}\"",
                                    plan.key.name, plan.key.namespace
                                ));
                            } else {
                                inputs.plans.push(plan);
                            }
                        }
                        Err(e) => inputs.errors.push(format!("{source}: {e}")),
                    }
                }
            }
            // The error names its file already (`pod.yaml: ...`, `<stdin>: ...`).
            Err(e) => inputs.errors.push(e.to_string()),
        }
    }
    Ok(inputs)
}

/// A fresh random (version 4 style) uid, as the API server assigns.
pub fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut words = [0u64; 2];
    for w in &mut words {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        *w = h.finish();
    }
    let (a, b) = (words[0], words[1]);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}
