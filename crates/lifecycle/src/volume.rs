//! What a pod volume contains: `emptyDir` and `hostPath` pass through, `configMap`, `secret`,
//! `downwardAPI` and `projected` volumes become a list of files to write. Mirrors the kubelet
//! volume plugins' payload builders — `configmap.MakePayload`, `secret.MakePayload`,
//! `downwardapi.CollectData`, `projected.collectData` — and the path checks of the
//! `AtomicWriter` (`validatePayload`); see kubelet-semantics.md §10.
//!
//! Every error's `Display` is the kubelet's message for that failure (the part after
//! `MountVolume.SetUp failed for volume "<name>" : `, see [`VolumeError::setup_failed_message`]).
//!
//! # Caveats
//!
//! * Only the volume types podvisor can provide locally are supported; others (PVCs, CSI,
//!   `image`, ...) and the projected sources `serviceAccountToken`, `clusterTrustBundle` and
//!   `podCertificate` fail with an error naming them.
//! * A volume without any source is an `emptyDir`, as the API server defaults it.
//! * `emptyDir.sizeLimit` and `fsGroup` ownership are not represented.
//! * Downward API `resourceFieldRef` in volumes defaults missing limits to node allocatable
//!   only (no pod-level limits), as the kubelet's volume plugin does.
//! * A path that cleans to `.` is rejected (the kubelet accepts it, then fails writing it).
//! * hostPath volumes: [`host_path_set_up`] is the kubelet's type check as a pure function of
//!   what the engine found at the path.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Volume};

use crate::env::{
    container_resource_value, extract_field_path, find_container, secret_data, EnvContext,
    EnvError, LimitDefaults,
};

/// Mode of projected files when neither `defaultMode` nor the item's `mode` is set (API default
/// 420 = 0644 for configMap, secret, downwardAPI and projected volumes).
pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// Longest payload path accepted (`maxPathLength`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Longest path element accepted (`maxFileNameLength`).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// What the engine has to provide for one pod volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A fresh directory per pod; `medium: Memory` asks for a tmpfs.
    EmptyDir {
        /// `emptyDir.medium == "Memory"`.
        medium_memory: bool,
    },
    /// A host path bind-mounted as is.
    HostPath {
        /// `hostPath.path`.
        path: String,
        /// `hostPath.type` (`""`, `Directory`, `DirectoryOrCreate`, `File`, ...), unchecked.
        type_: Option<String>,
    },
    /// A directory holding exactly these files (sorted by path).
    Files(Vec<ProjectedFile>),
}

/// One file of a configMap, secret, downwardAPI or projected volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedFile {
    /// Path relative to the volume root, cleaned (no `.`, `..` or empty elements).
    pub path: String,
    /// File contents.
    pub contents: Vec<u8>,
    /// Permission bits (0 to 0o777).
    pub mode: u32,
}

/// A problem with a payload path (`validatePath` of the kubelet's AtomicWriter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// The path is empty.
    Empty,
    /// The path is absolute.
    Absolute,
    /// The path is longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// An element is `..`.
    DotDot,
    /// An element is longer than [`MAX_FILE_NAME_BYTES`].
    NameTooLong,
    /// The first element starts with `..` (reserved for the writer's own entries).
    StartsWithDotDot,
    /// The path names the volume root itself (podvisor-specific).
    NotAFile,
}

impl PathProblem {
    fn describe(self, path: &str) -> String {
        match self {
            PathProblem::Empty => "invalid path: must not be empty: \"\"".to_owned(),
            PathProblem::Absolute => format!("invalid path: must be relative path: {path}"),
            PathProblem::TooLong => {
                format!("invalid path: must be less than or equal to {MAX_PATH_BYTES} characters")
            }
            PathProblem::DotDot => format!("invalid path: must not contain '..': {path}"),
            PathProblem::NameTooLong => format!(
                "invalid path: filenames must be less than or equal to {MAX_FILE_NAME_BYTES} characters"
            ),
            PathProblem::StartsWithDotDot => format!("invalid path: must not start with '..': {path}"),
            PathProblem::NotAFile => format!("invalid path: must name a file: {path}"),
        }
    }
}

/// Why a volume's contents cannot be built. `Display` is the kubelet's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// A non-optional ConfigMap does not exist.
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound {
        /// The volume's name.
        volume: String,
        /// The ConfigMap's name.
        name: String,
    },
    /// A non-optional Secret does not exist.
    #[error("secret \"{name}\" not found")]
    SecretNotFound {
        /// The volume's name.
        volume: String,
        /// The Secret's name.
        name: String,
    },
    /// An `items[].key` the (non-optional) ConfigMap lacks in `data` and `binaryData`.
    #[error("configmap references non-existent config key: {key}")]
    ConfigMapKeyNotFound {
        /// The volume's name.
        volume: String,
        /// The missing key.
        key: String,
    },
    /// An `items[].key` the (non-optional) Secret lacks.
    #[error("references non-existent secret key: {key}")]
    SecretKeyNotFound {
        /// The volume's name.
        volume: String,
        /// The missing key.
        key: String,
    },
    /// A downward API item cannot be resolved.
    #[error("{error}")]
    DownwardApi {
        /// The volume's name.
        volume: String,
        /// The field or resource error.
        error: EnvError,
    },
    /// A file path is not acceptable.
    #[error("{}", problem.describe(path))]
    InvalidPath {
        /// The volume's name.
        volume: String,
        /// The offending path as given.
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// A file mode outside 0..=0o777.
    #[error("invalid mode {mode} for path {path}: must be between 0 and 0777")]
    InvalidMode {
        /// The volume's name.
        volume: String,
        /// The file's path.
        path: String,
        /// The mode as given (decimal).
        mode: i32,
    },
    /// A volume type podvisor cannot provide.
    #[error("volume type {kind} is not supported")]
    UnsupportedVolumeType {
        /// The volume's name.
        volume: String,
        /// The source field, e.g. `persistentVolumeClaim`.
        kind: String,
    },
    /// An `emptyDir.medium` other than `""` and `Memory`.
    #[error("emptyDir medium {medium:?} is not supported")]
    UnsupportedMedium {
        /// The volume's name.
        volume: String,
        /// The medium.
        medium: String,
    },
    /// A projected source podvisor cannot provide.
    #[error("projected source {kind} is not supported")]
    UnsupportedProjection {
        /// The volume's name.
        volume: String,
        /// The source field, e.g. `serviceAccountToken`.
        kind: String,
    },
    /// Several failures, as the kubelet aggregates them (`[a, b]`, duplicates once).
    #[error("{}", aggregate_message(errors))]
    Aggregate {
        /// The volume's name.
        volume: String,
        /// The failures, in the order they were found (at least two).
        errors: Vec<VolumeError>,
    },
}

impl VolumeError {
    /// The name of the volume that failed.
    pub fn volume(&self) -> &str {
        match self {
            VolumeError::ConfigMapNotFound { volume, .. }
            | VolumeError::SecretNotFound { volume, .. }
            | VolumeError::ConfigMapKeyNotFound { volume, .. }
            | VolumeError::SecretKeyNotFound { volume, .. }
            | VolumeError::DownwardApi { volume, .. }
            | VolumeError::InvalidPath { volume, .. }
            | VolumeError::InvalidMode { volume, .. }
            | VolumeError::UnsupportedVolumeType { volume, .. }
            | VolumeError::UnsupportedMedium { volume, .. }
            | VolumeError::UnsupportedProjection { volume, .. }
            | VolumeError::Aggregate { volume, .. } => volume,
        }
    }

    /// The kubelet's `FailedMount` event message for this failure:
    /// `MountVolume.SetUp failed for volume "<name>" : <error>`.
    pub fn setup_failed_message(&self) -> String {
        format!(
            "MountVolume.SetUp failed for volume \"{}\" : {self}",
            self.volume()
        )
    }
}

/// `utilerrors.Aggregate.Error`: one distinct message as is, several as `[a, b]`.
fn aggregate_message(errors: &[VolumeError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for error in errors {
        let message = error.to_string();
        if !seen.contains(&message) {
            seen.push(message);
        }
    }
    match seen.as_slice() {
        [only] => only.clone(),
        all => format!("[{}]", all.join(", ")),
    }
}

/// What `volume` provides to the pod described by `ctx`.
pub fn project_volume(ctx: &EnvContext, volume: &Volume) -> Result<VolumeSource, VolumeError> {
    let name = volume.name.as_str();
    if let Some(empty_dir) = &volume.empty_dir {
        return match empty_dir.medium.as_deref().unwrap_or("") {
            "" => Ok(VolumeSource::EmptyDir {
                medium_memory: false,
            }),
            "Memory" => Ok(VolumeSource::EmptyDir {
                medium_memory: true,
            }),
            medium => Err(VolumeError::UnsupportedMedium {
                volume: name.to_owned(),
                medium: medium.to_owned(),
            }),
        };
    }
    if let Some(host_path) = &volume.host_path {
        return Ok(VolumeSource::HostPath {
            path: host_path.path.clone(),
            type_: host_path.type_.clone(),
        });
    }

    let mut payload = Payload::new(name);
    if let Some(source) = &volume.config_map {
        let default_mode = source.default_mode;
        payload.config_map(
            ctx,
            &source.name,
            source.items.as_deref(),
            default_mode,
            source.optional,
        )?;
    } else if let Some(source) = &volume.secret {
        let secret_name = source.secret_name.as_deref().unwrap_or("");
        payload.secret(
            ctx,
            secret_name,
            source.items.as_deref(),
            source.default_mode,
            source.optional,
        )?;
    } else if let Some(source) = &volume.downward_api {
        let errors = payload.downward_api(ctx, source.items.as_deref(), source.default_mode);
        payload.fail_on(errors)?;
    } else if let Some(source) = &volume.projected {
        let default_mode = source.default_mode;
        let mut errors = Vec::new();
        for projection in source.sources.iter().flatten() {
            let result = if let Some(cm) = &projection.config_map {
                payload.config_map(
                    ctx,
                    &cm.name,
                    cm.items.as_deref(),
                    default_mode,
                    cm.optional,
                )
            } else if let Some(secret) = &projection.secret {
                let items = secret.items.as_deref();
                payload.secret(ctx, &secret.name, items, default_mode, secret.optional)
            } else if let Some(downward_api) = &projection.downward_api {
                errors.extend(payload.downward_api(
                    ctx,
                    downward_api.items.as_deref(),
                    default_mode,
                ));
                Ok(())
            } else {
                let kind = if projection.service_account_token.is_some() {
                    "serviceAccountToken"
                } else if projection.cluster_trust_bundle.is_some() {
                    "clusterTrustBundle"
                } else if projection.pod_certificate.is_some() {
                    "podCertificate"
                } else {
                    // An empty projection contributes nothing.
                    continue;
                };
                Err(VolumeError::UnsupportedProjection {
                    volume: name.to_owned(),
                    kind: kind.to_owned(),
                })
            };
            if let Err(error) = result {
                errors.push(error);
            }
        }
        payload.fail_on(errors)?;
    } else {
        match other_source_kind(volume) {
            None => {
                return Ok(VolumeSource::EmptyDir {
                    medium_memory: false,
                })
            }
            Some(kind) => {
                return Err(VolumeError::UnsupportedVolumeType {
                    volume: name.to_owned(),
                    kind,
                })
            }
        }
    }
    payload.into_files().map(VolumeSource::Files)
}

/// The source field set on a volume of a type not handled above, `None` when there is none.
fn other_source_kind(volume: &Volume) -> Option<String> {
    match serde_json::to_value(volume) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().find(|key| *key != "name").cloned(),
        _ => Some("unknown".to_owned()),
    }
}

/// Files by path as given, later entries replacing earlier ones (the kubelet's payload map).
struct Payload<'v> {
    volume: &'v str,
    files: BTreeMap<String, (Vec<u8>, i32)>,
}

impl<'v> Payload<'v> {
    fn new(volume: &'v str) -> Self {
        Payload {
            volume,
            files: BTreeMap::new(),
        }
    }

    /// `configmap.MakePayload`: all of `data` and `binaryData`, or the listed items.
    fn config_map(
        &mut self,
        ctx: &EnvContext,
        name: &str,
        items: Option<&[KeyToPath]>,
        default_mode: Option<i32>,
        optional: Option<bool>,
    ) -> Result<(), VolumeError> {
        let optional = optional == Some(true);
        let config_map = match ctx.config_map(name) {
            Some(config_map) => Some(config_map),
            None if optional => None,
            None => {
                return Err(VolumeError::ConfigMapNotFound {
                    volume: self.volume.to_owned(),
                    name: name.to_owned(),
                })
            }
        };
        let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
        if let Some(config_map) = config_map {
            for (key, value) in config_map.data.iter().flatten() {
                data.insert(key, value.as_bytes());
            }
            for (key, value) in config_map.binary_data.iter().flatten() {
                data.entry(key).or_insert(value.0.as_slice());
            }
        }
        let missing = |key: &str| VolumeError::ConfigMapKeyNotFound {
            volume: self.volume.to_owned(),
            key: key.to_owned(),
        };
        let data: BTreeMap<String, Vec<u8>> = data
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_vec()))
            .collect();
        self.key_to_path(&data, items, default_mode, optional, missing)
    }

    /// `secret.MakePayload`: all keys, or the listed items.
    fn secret(
        &mut self,
        ctx: &EnvContext,
        name: &str,
        items: Option<&[KeyToPath]>,
        default_mode: Option<i32>,
        optional: Option<bool>,
    ) -> Result<(), VolumeError> {
        let optional = optional == Some(true);
        let data = match ctx.secret(name) {
            Some(secret) => secret_data(secret),
            None if optional => BTreeMap::new(),
            None => {
                return Err(VolumeError::SecretNotFound {
                    volume: self.volume.to_owned(),
                    name: name.to_owned(),
                })
            }
        };
        let missing = |key: &str| VolumeError::SecretKeyNotFound {
            volume: self.volume.to_owned(),
            key: key.to_owned(),
        };
        self.key_to_path(&data, items, default_mode, optional, missing)
    }

    /// The shared body of both `MakePayload`s.
    fn key_to_path(
        &mut self,
        data: &BTreeMap<String, Vec<u8>>,
        items: Option<&[KeyToPath]>,
        default_mode: Option<i32>,
        optional: bool,
        missing: impl Fn(&str) -> VolumeError,
    ) -> Result<(), VolumeError> {
        let default_mode = default_mode.unwrap_or(DEFAULT_FILE_MODE as i32);
        let items = items.unwrap_or_default();
        if items.is_empty() {
            for (key, value) in data {
                self.files
                    .insert(key.clone(), (value.clone(), default_mode));
            }
            return Ok(());
        }
        for item in items {
            match data.get(&item.key) {
                Some(value) => {
                    let mode = item.mode.unwrap_or(default_mode);
                    self.files.insert(item.path.clone(), (value.clone(), mode));
                }
                None if optional => {}
                None => return Err(missing(&item.key)),
            }
        }
        Ok(())
    }

    /// `downwardapi.CollectData`: every item is attempted; the failures are returned.
    fn downward_api(
        &mut self,
        ctx: &EnvContext,
        items: Option<&[DownwardAPIVolumeFile]>,
        default_mode: Option<i32>,
    ) -> Vec<VolumeError> {
        let default_mode = default_mode.unwrap_or(DEFAULT_FILE_MODE as i32);
        let mut errors = Vec::new();
        for item in items.unwrap_or_default() {
            let contents = if let Some(selector) = &item.field_ref {
                extract_field_path(ctx.pod, &selector.field_path)
            } else if let Some(selector) = &item.resource_field_ref {
                let container_name = selector.container_name.as_deref().unwrap_or("");
                find_container(ctx.pod, container_name).and_then(|(container, _)| {
                    container_resource_value(selector, container, Some(LimitDefaults::node(ctx)))
                })
            } else {
                Ok(String::new())
            };
            let contents = contents.unwrap_or_else(|error| {
                errors.push(VolumeError::DownwardApi {
                    volume: self.volume.to_owned(),
                    error,
                });
                String::new()
            });
            let mode = item.mode.unwrap_or(default_mode);
            // CollectData cleans the path before the writer validates it.
            self.files
                .insert(clean_path(&item.path), (contents.into_bytes(), mode));
        }
        errors
    }

    /// Turns collected failures into the volume's error (one as is, several aggregated).
    fn fail_on(&self, mut errors: Vec<VolumeError>) -> Result<(), VolumeError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(VolumeError::Aggregate {
                volume: self.volume.to_owned(),
                errors,
            }),
        }
    }

    /// Validates paths and modes (`validatePayload`) and returns the files sorted by path.
    fn into_files(self) -> Result<Vec<ProjectedFile>, VolumeError> {
        let mut files: BTreeMap<String, ProjectedFile> = BTreeMap::new();
        for (path, (contents, mode)) in self.files {
            let cleaned =
                validate_payload_path(&path).map_err(|problem| VolumeError::InvalidPath {
                    volume: self.volume.to_owned(),
                    path: path.clone(),
                    problem,
                })?;
            let mode = u32::try_from(mode)
                .ok()
                .filter(|mode| *mode <= 0o777)
                .ok_or_else(|| VolumeError::InvalidMode {
                    volume: self.volume.to_owned(),
                    path: path.clone(),
                    mode,
                })?;
            files.insert(
                cleaned.clone(),
                ProjectedFile {
                    path: cleaned,
                    contents,
                    mode,
                },
            );
        }
        Ok(files.into_values().collect())
    }
}

/// Checks a payload path like the kubelet's AtomicWriter and returns it cleaned.
pub fn validate_payload_path(path: &str) -> Result<String, PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathProblem::TooLong);
    }
    for element in path.split('/') {
        if element == ".." {
            return Err(PathProblem::DotDot);
        }
        if element.len() > MAX_FILE_NAME_BYTES {
            return Err(PathProblem::NameTooLong);
        }
    }
    let first = path.split('/').next().unwrap_or("");
    if first.starts_with("..") && first.len() > 2 {
        return Err(PathProblem::StartsWithDotDot);
    }
    let cleaned = clean_path(path);
    if cleaned == "." {
        return Err(PathProblem::NotAFile);
    }
    Ok(cleaned)
}

/// Go's `path.Clean` for relative and absolute slash-separated paths.
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut elements: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                if elements.last().is_some_and(|last| *last != "..") {
                    elements.pop();
                } else if !rooted {
                    elements.push("..");
                }
            }
            element => elements.push(element),
        }
    }
    let joined = elements.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// `hostPath.type` (`v1.HostPathType`); unset and `""` are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathType {
    /// No check: whatever is there is bind-mounted; the runtime creates a missing path as a
    /// directory (containerd's `WithMounts`: `MkdirAll(src, 0755)`).
    Unset,
    /// A directory, created (0755, with its parents) when nothing is there.
    DirectoryOrCreate,
    /// An existing directory.
    Directory,
    /// A file, created empty (0644) when nothing is there.
    FileOrCreate,
    /// An existing regular file.
    File,
    /// An existing UNIX socket.
    Socket,
    /// An existing character device.
    CharDevice,
    /// An existing block device.
    BlockDevice,
}

impl HostPathType {
    /// The type `hostPath.type` names, or `None` for a value Kubernetes does not define.
    pub fn parse(type_: Option<&str>) -> Option<HostPathType> {
        Some(match type_.unwrap_or("") {
            "" => HostPathType::Unset,
            "DirectoryOrCreate" => HostPathType::DirectoryOrCreate,
            "Directory" => HostPathType::Directory,
            "FileOrCreate" => HostPathType::FileOrCreate,
            "File" => HostPathType::File,
            "Socket" => HostPathType::Socket,
            "CharDevice" => HostPathType::CharDevice,
            "BlockDevice" => HostPathType::BlockDevice,
            _ => return None,
        })
    }
}

/// What a stat of a host path (following symlinks) found: `hostutil.FileType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFileType {
    /// A directory.
    Directory,
    /// A regular file.
    File,
    /// A UNIX socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else (a FIFO): `GetFileType` fails for it.
    Other,
}

impl HostFileType {
    /// The `FileType` string (`Directory`, `File`, `Socket`, `CharDevice`, `BlockDevice`).
    fn name(self) -> &'static str {
        match self {
            HostFileType::Directory => "Directory",
            HostFileType::File => "File",
            HostFileType::Socket => "Socket",
            HostFileType::CharDevice => "CharDevice",
            HostFileType::BlockDevice => "BlockDevice",
            HostFileType::Other => "",
        }
    }
}

/// What the engine must do to set up a hostPath volume whose check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathSetUp {
    /// Nothing: the path is there and of the right type, or its type is not checked.
    Ready,
    /// Create the directory (mode 0755, parents too).
    CreateDirectory,
    /// Create an empty file (mode 0644; its directory must exist).
    CreateFile,
}

/// Why a hostPath volume cannot be set up. `Display` is the kubelet's message (the part after
/// `MountVolume.SetUp failed for volume "<name>" : `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPathError {
    /// The path has a `..` element (`ValidatePathNoBacksteps`).
    #[error("invalid HostPath `{path}`: must not contain '..'")]
    Backsteps {
        /// `hostPath.path`.
        path: String,
    },
    /// `hostPath.type` is not a Kubernetes type.
    #[error("{type_} is an invalid volume type")]
    InvalidType {
        /// `hostPath.type`.
        type_: String,
    },
    /// Nothing is at the path, and the type does not create it.
    #[error("hostPath {path} doesn't exist")]
    Missing {
        /// `hostPath.path`.
        path: String,
    },
    /// Something is there, but not of a type the kubelet recognises.
    #[error("hostPath type check failed, {path} is not a {expected}, unable to determine its type: only recognise file, directory, socket, block device and character device")]
    Unrecognised {
        /// `hostPath.path`.
        path: String,
        /// What was wanted, e.g. `directory`.
        expected: &'static str,
    },
    /// Something of another type is there.
    #[error("hostPath type check failed: {path} is not a {expected}, it's a {}", found.name())]
    Mismatch {
        /// `hostPath.path`.
        path: String,
        /// What was wanted: `directory`, `file`, `socket file`, `character device`,
        /// `block device`.
        expected: &'static str,
        /// What is there.
        found: HostFileType,
    },
}

/// The kubelet's hostPath `SetUp` (`checkType` / `typeMatchedOrError` of
/// pkg/volume/hostpath/host_path.go) as a function of what is at the path: `found` is `None`
/// when nothing is (a dangling symlink included), else the type a stat following symlinks
/// saw. `Ok` says what is left to do.
pub fn host_path_set_up(
    path: &str,
    type_: Option<&str>,
    found: Option<HostFileType>,
) -> Result<HostPathSetUp, HostPathError> {
    if path.split('/').any(|e| e == "..") {
        return Err(HostPathError::Backsteps {
            path: path.to_owned(),
        });
    }
    let Some(kind) = HostPathType::parse(type_) else {
        return Err(HostPathError::InvalidType {
            type_: type_.unwrap_or("").to_owned(),
        });
    };
    let (wanted, expected) = match kind {
        HostPathType::Unset => return Ok(HostPathSetUp::Ready),
        HostPathType::DirectoryOrCreate if found.is_none() => {
            return Ok(HostPathSetUp::CreateDirectory)
        }
        HostPathType::FileOrCreate if found.is_none() => return Ok(HostPathSetUp::CreateFile),
        HostPathType::DirectoryOrCreate | HostPathType::Directory => {
            (HostFileType::Directory, "directory")
        }
        HostPathType::FileOrCreate | HostPathType::File => (HostFileType::File, "file"),
        HostPathType::Socket => (HostFileType::Socket, "socket file"),
        HostPathType::CharDevice => (HostFileType::CharDevice, "character device"),
        HostPathType::BlockDevice => (HostFileType::BlockDevice, "block device"),
    };
    let path = path.to_owned();
    match found {
        None => Err(HostPathError::Missing { path }),
        Some(HostFileType::Other) => Err(HostPathError::Unrecognised { path, expected }),
        Some(f) if f == wanted => Ok(HostPathSetUp::Ready),
        Some(found) => Err(HostPathError::Mismatch {
            path,
            expected,
            found,
        }),
    }
}

/// The kubelet's `FailedMount` event message for a volume whose set-up failed:
/// `MountVolume.SetUp failed for volume "<name>" : <error>`.
pub fn setup_failed_message(volume: &str, error: &dyn std::fmt::Display) -> String {
    format!("MountVolume.SetUp failed for volume \"{volume}\" : {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
    use serde_json::json;

    struct Fixture {
        pod: Pod,
        config_maps: Vec<ConfigMap>,
        secrets: Vec<Secret>,
    }

    impl Fixture {
        fn new() -> Self {
            let pod = serde_json::from_value(json!({
                "metadata": {
                    "name": "web",
                    "namespace": "ns",
                    "uid": "u-1",
                    "labels": {"tier": "front", "app": "web"},
                    "annotations": {"quote": "say \"hi\"\n"},
                },
                "spec": {
                    "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "100m"}}}],
                    "containers": [
                        {"name": "main", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "1500m"}}},
                    ],
                },
            }))
            .expect("test pod is valid");
            let config_maps = vec![serde_json::from_value(json!({
                "metadata": {"name": "cfg", "namespace": "ns"},
                "data": {"app.conf": "x=1\n", "other": "o"},
                "binaryData": {"blob": "AAEC"},
            }))
            .expect("test configmap is valid")];
            let secrets = vec![serde_json::from_value(json!({
                "metadata": {"name": "creds", "namespace": "ns"},
                "data": {"password": "c2VjcmV0"},
                "stringData": {"user": "admin"},
            }))
            .expect("test secret is valid")];
            Fixture {
                pod,
                config_maps,
                secrets,
            }
        }

        fn project(&self, volume: serde_json::Value) -> Result<VolumeSource, VolumeError> {
            let ctx = EnvContext {
                pod: &self.pod,
                pod_ip: "10.0.0.1",
                host_ip: "10.0.0.254",
                node_name: "node",
                config_maps: &self.config_maps,
                secrets: &self.secrets,
                node_allocatable_cpu_millis: 2000,
                node_allocatable_memory_bytes: 1 << 30,
            };
            let volume: Volume = serde_json::from_value(volume).expect("test volume is valid");
            project_volume(&ctx, &volume)
        }

        fn files(&self, volume: serde_json::Value) -> Vec<(String, String, u32)> {
            match self.project(volume) {
                Ok(VolumeSource::Files(files)) => files
                    .into_iter()
                    .map(|f| {
                        (
                            f.path,
                            String::from_utf8_lossy(&f.contents).into_owned(),
                            f.mode,
                        )
                    })
                    .collect(),
                other => panic!("expected files, got {other:?}"),
            }
        }

        fn error(&self, volume: serde_json::Value) -> String {
            match self.project(volume) {
                Err(error) => error.to_string(),
                Ok(source) => panic!("expected an error, got {source:?}"),
            }
        }
    }

    fn file(path: &str, contents: &str, mode: u32) -> (String, String, u32) {
        (path.to_owned(), contents.to_owned(), mode)
    }

    #[test]
    fn empty_dir_host_path_and_sourceless_volumes() {
        let fixture = Fixture::new();
        let cases = [
            (
                json!({"name": "v", "emptyDir": {}}),
                VolumeSource::EmptyDir {
                    medium_memory: false,
                },
            ),
            (
                json!({"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}),
                VolumeSource::EmptyDir {
                    medium_memory: true,
                },
            ),
            (
                json!({"name": "v"}),
                VolumeSource::EmptyDir {
                    medium_memory: false,
                },
            ),
            (
                json!({"name": "v", "hostPath": {"path": "/data", "type": "Directory"}}),
                VolumeSource::HostPath {
                    path: "/data".to_owned(),
                    type_: Some("Directory".to_owned()),
                },
            ),
            (
                json!({"name": "v", "hostPath": {"path": "/tmp"}}),
                VolumeSource::HostPath {
                    path: "/tmp".to_owned(),
                    type_: None,
                },
            ),
        ];
        for (volume, expected) in cases {
            assert_eq!(fixture.project(volume.clone()), Ok(expected), "{volume}");
        }
    }

    #[test]
    fn unsupported_volumes_name_their_type() {
        let fixture = Fixture::new();
        assert_eq!(
            fixture.error(json!({"name": "v", "persistentVolumeClaim": {"claimName": "c"}})),
            "volume type persistentVolumeClaim is not supported"
        );
        assert_eq!(
            fixture.error(json!({"name": "v", "emptyDir": {"medium": "HugePages"}})),
            "emptyDir medium \"HugePages\" is not supported"
        );
        assert_eq!(
            fixture.error(json!({"name": "v", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
            ]}})),
            "projected source serviceAccountToken is not supported"
        );
    }

    #[test]
    fn config_map_volume_projects_data_and_binary_data_with_default_mode() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "configMap": {"name": "cfg"}}));
        assert_eq!(
            files,
            [
                file("app.conf", "x=1\n", 0o644),
                file("blob", "\u{0}\u{1}\u{2}", 0o644),
                file("other", "o", 0o644)
            ]
        );
    }

    #[test]
    fn config_map_items_select_keys_paths_and_modes() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "configMap": {
            "name": "cfg",
            "defaultMode": 0o600,
            "items": [
                {"key": "app.conf", "path": "conf/app.conf"},
                {"key": "blob", "path": "./bin//blob", "mode": 0o755},
            ],
        }}));
        assert_eq!(
            files,
            [
                file("bin/blob", "\u{0}\u{1}\u{2}", 0o755),
                file("conf/app.conf", "x=1\n", 0o600)
            ]
        );
    }

    #[test]
    fn config_map_missing_object_or_key() {
        let fixture = Fixture::new();
        let cases = [
            (
                json!({"name": "nope"}),
                Some("configmap \"nope\" not found"),
            ),
            (json!({"name": "nope", "optional": true}), None),
            (
                json!({"name": "cfg", "items": [{"key": "k", "path": "p"}]}),
                Some("configmap references non-existent config key: k"),
            ),
            (
                json!({"name": "cfg", "optional": true, "items": [{"key": "k", "path": "p"}]}),
                None,
            ),
            (
                json!({"name": "nope", "optional": true, "items": [{"key": "k", "path": "p"}]}),
                None,
            ),
        ];
        for (source, expected) in cases {
            let volume = json!({"name": "v", "configMap": source});
            match expected {
                Some(message) => assert_eq!(fixture.error(volume), message, "{source}"),
                None => assert_eq!(fixture.files(volume), [], "{source}"),
            }
        }
    }

    #[test]
    fn secret_volume_projects_decoded_data_and_string_data() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "secret": {"secretName": "creds"}}));
        assert_eq!(
            files,
            [
                file("password", "secret", 0o644),
                file("user", "admin", 0o644)
            ]
        );
        let files = fixture.files(json!({"name": "v", "secret": {
            "secretName": "creds", "defaultMode": 0o400, "items": [{"key": "user", "path": "u"}],
        }}));
        assert_eq!(files, [file("u", "admin", 0o400)]);
    }

    #[test]
    fn secret_missing_object_or_key() {
        let fixture = Fixture::new();
        assert_eq!(
            fixture.error(json!({"name": "v", "secret": {"secretName": "nope"}})),
            "secret \"nope\" not found"
        );
        assert_eq!(
            fixture.files(json!({"name": "v", "secret": {"secretName": "nope", "optional": true}})),
            []
        );
        assert_eq!(
            fixture.error(json!({"name": "v", "secret": {"secretName": "creds", "items": [{"key": "k", "path": "p"}]}})),
            "references non-existent secret key: k"
        );
    }

    #[test]
    fn downward_api_volume_fields_and_resources() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "downwardAPI": {"items": [
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
            {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}, "mode": 0o444},
            {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory", "divisor": "1Mi"}},
            {"path": "cpu_limit", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu", "divisor": "1m"}},
            {"path": "cpu_request", "resourceFieldRef": {"containerName": "main", "resource": "requests.cpu"}},
            {"path": "init_cpu", "resourceFieldRef": {"containerName": "init", "resource": "limits.cpu", "divisor": "1m"}},
            {"path": "init_mem", "resourceFieldRef": {"containerName": "init", "resource": "limits.memory", "divisor": "1Mi"}},
        ]}}));
        assert_eq!(
            files,
            [
                file("annotations", "quote=\"say \\\"hi\\\"\\n\"", 0o444),
                file("cpu_limit", "2000", 0o644),
                file("cpu_request", "2", 0o644),
                file("init_cpu", "100", 0o644),
                file("init_mem", "1024", 0o644),
                file("labels", "app=\"web\"\ntier=\"front\"", 0o644),
                file("mem", "64", 0o644),
                file("name", "web", 0o644),
                file("namespace", "ns", 0o644),
                file("tier", "front", 0o644),
                file("uid", "u-1", 0o644),
            ]
        );
    }

    #[test]
    fn downward_api_volume_errors_are_aggregated() {
        let fixture = Fixture::new();
        let one = fixture.error(json!({"name": "v", "downwardAPI": {"items": [
            {"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}},
        ]}}));
        assert_eq!(one, "unsupported fieldPath: status.podIP");
        let several = fixture.error(json!({"name": "v", "downwardAPI": {"items": [
            {"path": "a", "fieldRef": {"fieldPath": "spec.nodeName"}},
            {"path": "b", "resourceFieldRef": {"resource": "limits.cpu"}},
            {"path": "c", "fieldRef": {"fieldPath": "spec.nodeName"}},
            {"path": "d", "fieldRef": {"fieldPath": "metadata.uid['x']"}},
        ]}}));
        assert_eq!(
            several,
            "[unsupported fieldPath: spec.nodeName, container  not found, \
             fieldPath \"metadata.uid['x']\" does not support subscript]"
        );
    }

    #[test]
    fn projected_volume_combines_sources_with_later_ones_winning() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "projected": {
            "defaultMode": 0o640,
            "sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "other", "path": "shared"}]}},
                {"secret": {"name": "creds", "items": [{"key": "user", "path": "shared", "mode": 0o600}]}},
                {"downwardAPI": {"items": [{"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"configMap": {"name": "nope", "optional": true}},
                {},
            ],
        }}));
        assert_eq!(
            files,
            [
                file("podname", "web", 0o640),
                file("shared", "admin", 0o600)
            ]
        );
    }

    #[test]
    fn projected_volume_reports_every_failing_source() {
        let fixture = Fixture::new();
        let message = fixture.error(json!({"name": "v", "projected": {"sources": [
            {"configMap": {"name": "nope"}},
            {"secret": {"name": "gone"}},
            {"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "status.phase"}}]}},
        ]}}));
        assert_eq!(
            message,
            "[configmap \"nope\" not found, secret \"gone\" not found, unsupported fieldPath: status.phase]"
        );
    }

    #[test]
    fn item_paths_are_validated() {
        let fixture = Fixture::new();
        let long_name = "n".repeat(256);
        let long_path = format!("{}/x", "d/".repeat(2048));
        let cases = [
            (
                "/etc/passwd",
                "invalid path: must be relative path: /etc/passwd",
            ),
            (
                "../escape",
                "invalid path: must not contain '..': ../escape",
            ),
            (
                "a/../../b",
                "invalid path: must not contain '..': a/../../b",
            ),
            ("..data", "invalid path: must not start with '..': ..data"),
            (".", "invalid path: must name a file: ."),
            (
                long_name.as_str(),
                "invalid path: filenames must be less than or equal to 255 characters",
            ),
            (
                long_path.as_str(),
                "invalid path: must be less than or equal to 4096 characters",
            ),
        ];
        for (path, expected) in cases {
            let volume = json!({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "other", "path": path}]}});
            assert_eq!(fixture.error(volume), expected, "{path}");
        }
        let volume = json!({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "other", "path": ""}]}});
        assert_eq!(
            fixture.error(volume),
            "invalid path: must not be empty: \"\""
        );
    }

    #[test]
    fn downward_api_paths_are_cleaned_before_validation() {
        let fixture = Fixture::new();
        let files = fixture.files(json!({"name": "v", "downwardAPI": {"items": [
            {"path": "a/../b", "fieldRef": {"fieldPath": "metadata.name"}},
        ]}}));
        assert_eq!(files, [file("b", "web", 0o644)]);
        let message = fixture.error(json!({"name": "v", "downwardAPI": {"items": [
            {"path": "a/../../b", "fieldRef": {"fieldPath": "metadata.name"}},
        ]}}));
        assert_eq!(message, "invalid path: must not contain '..': ../b");
    }

    #[test]
    fn modes_outside_0_to_0777_are_rejected() {
        let fixture = Fixture::new();
        for mode in [-1, 0o1000] {
            let volume = json!({"name": "v", "configMap": {"name": "cfg", "items": [{"key": "other", "path": "o", "mode": mode}]}});
            assert_eq!(
                fixture.error(volume),
                format!("invalid mode {mode} for path o: must be between 0 and 0777")
            );
        }
        let files = fixture.files(json!({"name": "v", "configMap": {"name": "cfg", "defaultMode": 0, "items": [{"key": "other", "path": "o"}]}}));
        assert_eq!(files, [file("o", "o", 0)]);
    }

    #[test]
    fn setup_failed_message_names_the_volume() {
        let fixture = Fixture::new();
        let volume: Volume =
            serde_json::from_value(json!({"name": "conf", "configMap": {"name": "nope"}}))
                .expect("test volume is valid");
        let ctx = EnvContext {
            pod: &fixture.pod,
            pod_ip: "",
            host_ip: "",
            node_name: "",
            config_maps: &[],
            secrets: &[],
            node_allocatable_cpu_millis: 0,
            node_allocatable_memory_bytes: 0,
        };
        let error = project_volume(&ctx, &volume).unwrap_err();
        assert_eq!(error.volume(), "conf");
        assert_eq!(
            error.setup_failed_message(),
            "MountVolume.SetUp failed for volume \"conf\" : configmap \"nope\" not found"
        );
    }

    #[test]
    fn clean_path_table() {
        let cases = [
            ("", "."),
            (".", "."),
            ("a", "a"),
            ("a/", "a"),
            ("./a//b/./c", "a/b/c"),
            ("a/../b", "b"),
            ("a/../../b", "../b"),
            ("/a/../../b", "/b"),
            ("/", "/"),
        ];
        for (path, expected) in cases {
            assert_eq!(clean_path(path), expected, "{path:?}");
        }
    }
    #[test]
    fn host_path_types_are_checked_as_the_kubelet_does() {
        use HostFileType as F;
        use HostPathSetUp as S;
        let check = |t: Option<&str>, f: Option<F>| host_path_set_up("/p", t, f);
        // Unset: no check at all.
        for t in [None, Some("")] {
            for f in [None, Some(F::File), Some(F::Other)] {
                assert_eq!(check(t, f), Ok(S::Ready));
            }
        }
        assert_eq!(
            check(Some("DirectoryOrCreate"), None),
            Ok(S::CreateDirectory)
        );
        assert_eq!(
            check(Some("DirectoryOrCreate"), Some(F::Directory)),
            Ok(S::Ready)
        );
        assert_eq!(check(Some("FileOrCreate"), None), Ok(S::CreateFile));
        assert_eq!(check(Some("FileOrCreate"), Some(F::File)), Ok(S::Ready));
        for (t, f) in [
            ("Directory", F::Directory),
            ("File", F::File),
            ("Socket", F::Socket),
            ("CharDevice", F::CharDevice),
            ("BlockDevice", F::BlockDevice),
        ] {
            assert_eq!(check(Some(t), Some(f)), Ok(S::Ready), "{t}");
        }
        let msg = |t: &str, f: Option<F>| check(Some(t), f).unwrap_err().to_string();
        assert_eq!(msg("Directory", None), "hostPath /p doesn't exist");
        assert_eq!(
            msg("Directory", Some(F::File)),
            "hostPath type check failed: /p is not a directory, it's a File"
        );
        assert_eq!(
            msg("DirectoryOrCreate", Some(F::File)),
            "hostPath type check failed: /p is not a directory, it's a File"
        );
        assert_eq!(
            msg("FileOrCreate", Some(F::Directory)),
            "hostPath type check failed: /p is not a file, it's a Directory"
        );
        assert_eq!(
            msg("Socket", Some(F::File)),
            "hostPath type check failed: /p is not a socket file, it's a File"
        );
        assert_eq!(
            msg("CharDevice", Some(F::BlockDevice)),
            "hostPath type check failed: /p is not a character device, it's a BlockDevice"
        );
        assert_eq!(
            msg("BlockDevice", Some(F::CharDevice)),
            "hostPath type check failed: /p is not a block device, it's a CharDevice"
        );
        assert_eq!(
            msg("File", Some(F::Other)),
            "hostPath type check failed, /p is not a file, unable to determine its type: only recognise file, directory, socket, block device and character device"
        );
        assert_eq!(msg("Dir", None), "Dir is an invalid volume type");
        assert_eq!(
            host_path_set_up("/a/../b", None, None)
                .unwrap_err()
                .to_string(),
            "invalid HostPath `/a/../b`: must not contain '..'"
        );
        assert_eq!(
            setup_failed_message("x", &check(Some("Directory"), Some(F::File)).unwrap_err()),
            "MountVolume.SetUp failed for volume \"x\" : hostPath type check failed: /p is not a directory, it's a File"
        );
    }
}
