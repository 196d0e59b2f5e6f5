//! Pod volumes on the host and the per-instance mounts of a container. Mirrors the kubelet's
//! volume manager for the local volume types (emptyDir, hostPath, configMap, secret,
//! downwardAPI, projected) and `makeMounts` (kuberuntime_container.go) including the fresh
//! termination-message file per container instance (kubelet-semantics.md §8).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use podvisor_lifecycle::env::EnvContext;
use podvisor_lifecycle::plan::{ContainerPlan, PodPlan};
use podvisor_lifecycle::volume::{
    host_path_set_up, project_volume, HostFileType, HostPathSetUp, VolumeSource,
};

use crate::objects::Objects;
use crate::runtime::Mount;

/// Why a volume or mount could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VolumeSetupError {
    /// The volume's source could not be resolved (missing ConfigMap, bad item path, ...).
    #[error("MountVolume.SetUp failed for volume {volume:?}")]
    Resolve {
        /// Volume name.
        volume: String,
        /// Cause.
        #[source]
        source: Box<podvisor_lifecycle::volume::VolumeError>,
    },
    /// A file or directory could not be written.
    #[error("MountVolume.SetUp failed for volume {volume:?}: write {path}")]
    Write {
        /// Volume name.
        volume: String,
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A hostPath volume's set-up failed (the kubelet's `MountVolume.SetUp`: its type check,
    /// or creating the directory or file of a `...OrCreate` type). `message` is the kubelet's
    /// error, the part after `MountVolume.SetUp failed for volume "<name>" : `.
    #[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
    SetUp {
        /// Volume name.
        volume: String,
        /// The plugin's error, e.g. `hostPath type check failed: /p is not a directory, ...`.
        message: String,
    },
    /// A container mounts a volume the pod does not define (validation prevents this).
    #[error("volume {volume:?} mounted by container {container:?} is not defined")]
    Unknown {
        /// Volume name.
        volume: String,
        /// Container.
        container: String,
    },
    /// The termination-message file could not be created.
    #[error("create termination message file {path}")]
    TerminationFile {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// `subPath` escapes its volume.
    #[error("subPath {sub_path:?} of volume {volume:?} must be a relative path without '..'")]
    SubPath {
        /// Volume.
        volume: String,
        /// The offending subPath.
        sub_path: String,
    },
}

/// The pod's volumes, resolved to host paths.
#[derive(Debug, Clone)]
pub struct PodVolumes {
    pod_dir: PathBuf,
    host_paths: BTreeMap<String, PathBuf>,
    /// hostPath volumes without a type: the runtime creates their missing path as a
    /// directory when it mounts them (containerd's `WithMounts`).
    create_if_missing: BTreeSet<String>,
}

/// The mounts of one container instance.
#[derive(Debug, Clone)]
pub struct InstanceMounts {
    /// Bind mounts in order.
    pub mounts: Vec<Mount>,
    /// Host path of the instance's termination-message file.
    pub termination_file: Option<PathBuf>,
}

fn write_err(volume: &str, path: &Path) -> impl FnOnce(io::Error) -> VolumeSetupError {
    let (volume, path) = (volume.to_string(), path.to_path_buf());
    move |source| VolumeSetupError::Write {
        volume,
        path,
        source,
    }
}

impl PodVolumes {
    /// Creates every volume of the pod below `pod_dir/volumes`.
    pub fn prepare(
        plan: &PodPlan,
        pod_dir: &Path,
        objects: &Objects,
        node_name: &str,
        host_ip: &str,
    ) -> Result<PodVolumes, VolumeSetupError> {
        let ctx = EnvContext {
            pod: &plan.pod,
            pod_ip: "",
            host_ip,
            node_name,
            config_maps: &objects.config_maps,
            secrets: &objects.secrets,
            node_allocatable_cpu_millis: 0,
            node_allocatable_memory_bytes: 0,
        };
        let mut host_paths = BTreeMap::new();
        let mut create_if_missing = BTreeSet::new();
        let volumes = plan
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.clone())
            .unwrap_or_default();
        for v in &volumes {
            let source = project_volume(&ctx, v).map_err(|source| VolumeSetupError::Resolve {
                volume: v.name.clone(),
                source: Box::new(source),
            })?;
            let dir = pod_dir.join("volumes").join(&v.name);
            let path = match source {
                VolumeSource::EmptyDir { .. } => {
                    std::fs::create_dir_all(&dir).map_err(write_err(&v.name, &dir))?;
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                        .map_err(write_err(&v.name, &dir))?;
                    dir
                }
                VolumeSource::HostPath { path, type_ } => {
                    let p = PathBuf::from(&path);
                    let set_up = |message: String| VolumeSetupError::SetUp {
                        volume: v.name.clone(),
                        message,
                    };
                    match host_path_set_up(&path, type_.as_deref(), host_file_type(&p))
                        .map_err(|e| set_up(e.to_string()))?
                    {
                        HostPathSetUp::Ready => {}
                        // `makeDir`: MkdirAll(path, 0755).
                        HostPathSetUp::CreateDirectory => std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(0o755)
                            .create(&p)
                            .map_err(|e| set_up(format!("mkdir {path}: {e}")))?,
                        // `makeFile`: OpenFile(path, O_CREATE, 0644); its directory must exist.
                        HostPathSetUp::CreateFile => {
                            std::fs::OpenOptions::new()
                                .read(true)
                                .write(true)
                                .create(true)
                                .truncate(false)
                                .mode(0o644)
                                .open(&p)
                                .map_err(|e| set_up(format!("open {path}: {e}")))?;
                        }
                    }
                    if type_.as_deref().unwrap_or("").is_empty() {
                        create_if_missing.insert(v.name.clone());
                    }
                    p
                }
                VolumeSource::Files(files) => {
                    // Written afresh each time, like the kubelet's atomic writer (without the
                    // symlink swap: podvisor does not update projected volumes in place).
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir).map_err(write_err(&v.name, &dir))?;
                    }
                    std::fs::create_dir_all(&dir).map_err(write_err(&v.name, &dir))?;
                    for f in files {
                        let target = dir.join(&f.path);
                        if let Some(parent) = target.parent() {
                            std::fs::create_dir_all(parent).map_err(write_err(&v.name, parent))?;
                        }
                        std::fs::write(&target, &f.contents)
                            .map_err(write_err(&v.name, &target))?;
                        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(f.mode))
                            .map_err(write_err(&v.name, &target))?;
                    }
                    dir
                }
            };
            host_paths.insert(v.name.clone(), path);
        }
        Ok(PodVolumes {
            pod_dir: pod_dir.to_path_buf(),
            host_paths,
            create_if_missing,
        })
    }

    /// The mounts of a new instance of `c`, with a fresh, empty termination-message file
    /// (mode 0666) named by 8 random hex digits.
    pub fn mounts_for(
        &self,
        c: &ContainerPlan,
        restart_count: i32,
    ) -> Result<InstanceMounts, VolumeSetupError> {
        let mut mounts = Vec::new();
        for m in &c.volume_mounts {
            let base = self
                .host_paths
                .get(&m.volume)
                .ok_or_else(|| VolumeSetupError::Unknown {
                    volume: m.volume.clone(),
                    container: c.name.clone(),
                })?;
            if self.create_if_missing.contains(&m.volume) && !base.exists() {
                // containerd: a missing bind-mount source becomes a directory (0755).
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(base)
                    .map_err(write_err(&m.volume, base))?;
            }
            let source = if m.sub_path.is_empty() {
                base.clone()
            } else {
                let sub = Path::new(&m.sub_path);
                if sub.is_absolute()
                    || sub
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(VolumeSetupError::SubPath {
                        volume: m.volume.clone(),
                        sub_path: m.sub_path.clone(),
                    });
                }
                let p = base.join(sub);
                if !p.exists() {
                    std::fs::create_dir_all(&p).map_err(write_err(&m.volume, &p))?;
                }
                p
            };
            mounts.push(Mount {
                source,
                target: PathBuf::from(&m.mount_path),
                read_only: m.read_only,
            });
        }
        let dir = self.pod_dir.join("containers").join(&c.name);
        let name = format!("{:08x}", rand::random::<u32>() ^ (restart_count as u32));
        let file = dir.join(name);
        let create = || -> io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750))?;
            std::fs::write(&file, b"")?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))
        };
        create().map_err(|source| VolumeSetupError::TerminationFile {
            path: file.clone(),
            source,
        })?;
        mounts.push(Mount {
            source: file.clone(),
            target: PathBuf::from(&c.termination_message_path),
            read_only: false,
        });
        Ok(InstanceMounts {
            mounts,
            termination_file: Some(file),
        })
    }
}

/// What is at `path`, following symlinks (`hostutil.GetFileType`); `None` when nothing is.
fn host_file_type(path: &Path) -> Option<HostFileType> {
    let t = std::fs::metadata(path).ok()?.file_type();
    Some(if t.is_dir() {
        HostFileType::Directory
    } else if t.is_file() {
        HostFileType::File
    } else if t.is_socket() {
        HostFileType::Socket
    } else if t.is_char_device() {
        HostFileType::CharDevice
    } else if t.is_block_device() {
        HostFileType::BlockDevice
    } else {
        HostFileType::Other
    })
}
