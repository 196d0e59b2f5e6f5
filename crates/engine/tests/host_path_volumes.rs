//! hostPath volumes set up as the kubelet and containerd do: typed paths checked (a failed
//! check is the kubelet's `MountVolume.SetUp` error), `...OrCreate` types created with the
//! kubelet's modes, an untyped missing path created as a directory when it is mounted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use podvisor_engine::objects::Objects;
use podvisor_engine::volumes::{PodVolumes, VolumeSetupError};
use podvisor_lifecycle::intake::{build_plan, parse};
use podvisor_lifecycle::plan::PodPlan;

fn plan(path: &Path, type_: &str) -> PodPlan {
    let type_ = if type_.is_empty() {
        String::new()
    } else {
        format!(", type: {type_}")
    };
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - {{name: a, image: b, command: [x], volumeMounts: [{{name: data, mountPath: /data}}]}}\n  volumes:\n  - {{name: data, hostPath: {{path: {}{type_}}}}}\n",
        path.display()
    );
    build_plan(parse(&yaml, "p.yaml").unwrap().pods.remove(0)).unwrap()
}

fn prepare(pod_dir: &Path, plan: &PodPlan) -> Result<PodVolumes, VolumeSetupError> {
    PodVolumes::prepare(plan, pod_dir, &Objects::default(), "node", "127.0.0.1")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_failed_type_check_is_the_kubelets_set_up_error() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let missing = d.path().join("missing");
    for (path, type_, message) in [
        (
            &file,
            "Directory",
            format!(
                "hostPath type check failed: {} is not a directory, it's a File",
                file.display()
            ),
        ),
        (
            &file,
            "DirectoryOrCreate",
            format!(
                "hostPath type check failed: {} is not a directory, it's a File",
                file.display()
            ),
        ),
        (
            &d.path().to_path_buf(),
            "File",
            format!(
                "hostPath type check failed: {} is not a file, it's a Directory",
                d.path().display()
            ),
        ),
        (
            &file,
            "Socket",
            format!(
                "hostPath type check failed: {} is not a socket file, it's a File",
                file.display()
            ),
        ),
        (
            &missing,
            "Directory",
            format!("hostPath {} doesn't exist", missing.display()),
        ),
        (
            &missing,
            "CharDevice",
            format!("hostPath {} doesn't exist", missing.display()),
        ),
    ] {
        match prepare(&d.path().join("pod"), &plan(path, type_)) {
            Err(VolumeSetupError::SetUp { volume, message: m }) => {
                assert_eq!(
                    (volume.as_str(), m.as_str()),
                    ("data", message.as_str()),
                    "{type_}"
                );
            }
            other => panic!("{type_}: {other:?}"),
        }
    }
    assert!(!missing.exists());
    // Existing paths of the right type pass.
    prepare(&d.path().join("pod"), &plan(&file, "File")).unwrap();
    prepare(&d.path().join("pod"), &plan(d.path(), "Directory")).unwrap();
    prepare(
        &d.path().join("pod"),
        &plan(Path::new("/dev/null"), "CharDevice"),
    )
    .unwrap();
}

#[test]
fn or_create_types_create_the_path_with_the_kubelets_modes() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("a/b");
    prepare(&d.path().join("pod"), &plan(&dir, "DirectoryOrCreate")).unwrap();
    assert!(dir.is_dir());
    let file = d.path().join("new-file");
    prepare(&d.path().join("pod"), &plan(&file, "FileOrCreate")).unwrap();
    assert!(file.is_file());
    assert_eq!(std::fs::read(&file).unwrap(), b"");
    // The process umask may remove bits, never add them.
    assert_eq!(mode(&dir) & !0o755, 0);
    assert_eq!(mode(&file) & !0o644, 0);
    // An existing file is left as it is.
    std::fs::write(&file, b"kept").unwrap();
    prepare(&d.path().join("pod"), &plan(&file, "FileOrCreate")).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"kept");
}

#[test]
fn an_untyped_missing_path_becomes_a_directory_when_mounted() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("untyped/dir");
    let plan = plan(&path, "");
    let volumes = prepare(&d.path().join("pod"), &plan).unwrap();
    // The kubelet does not touch it; the runtime creates it as it mounts it.
    assert!(!path.exists());
    let mounts = volumes.mounts_for(&plan.containers[0], 0).unwrap();
    assert!(path.is_dir());
    assert_eq!(mode(&path) & !0o755, 0);
    assert!(mounts.mounts.iter().any(|m| m.source == path));
}
