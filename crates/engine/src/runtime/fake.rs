//! A scripted runtime for engine tests: containers exit after a set time, handle or ignore the
//! stop signal, execs return scripted output. All time goes through tokio, so tests run with a
//! paused clock. Constructed explicitly and passed in; never chosen by `cfg(test)`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use podvisor_lifecycle::signal::Signal;
use tokio::sync::watch;

use super::{
    ContainerId, ContainerSpec, ExecOutput, ExitStatus, Runtime, RuntimeError, SandboxId,
    SandboxInfo, SandboxSpec, StartedContainer, TtyExec,
};

/// How one container behaves (by container name).
#[derive(Debug, Clone)]
pub struct FakeBehaviour {
    /// Exits by itself after this long with this code.
    pub exits_after: Option<(Duration, i32)>,
    /// On any signal other than SIGKILL: exit after this long with this code; `None` = ignore.
    pub on_stop_signal: Option<(Duration, i32)>,
    /// Every exec into the container takes this long and returns this.
    pub exec: (Duration, ExecOutput),
    /// Starting fails with this (the entrypoint cannot be executed).
    pub start_fails: bool,
}

impl Default for FakeBehaviour {
    fn default() -> Self {
        FakeBehaviour {
            exits_after: None,
            on_stop_signal: Some((Duration::ZERO, 143)),
            exec: (Duration::ZERO, ExecOutput::default()),
            start_fails: false,
        }
    }
}

#[derive(Debug)]
struct Container {
    name: String,
    exit: watch::Sender<Option<ExitStatus>>,
}

#[derive(Debug, Default)]
struct State {
    behaviours: HashMap<String, FakeBehaviour>,
    containers: HashMap<ContainerId, Container>,
    signals: Vec<(String, String)>,
    execs: Vec<(String, Vec<String>)>,
}

/// The scripted runtime.
#[derive(Debug, Clone, Default)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
    next: Arc<AtomicU32>,
}

impl FakeRuntime {
    /// A runtime where every container runs forever and exits 143 on SIGTERM.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scripts the container called `name`.
    pub fn behave(&self, name: &str, b: FakeBehaviour) {
        self.lock().behaviours.insert(name.to_string(), b);
    }

    /// Every signal sent so far, as (container name, signal).
    pub fn signals(&self) -> Vec<(String, String)> {
        self.lock().signals.clone()
    }

    /// Every exec so far, as (container name, argv).
    pub fn execs(&self) -> Vec<(String, Vec<String>)> {
        self.lock().execs.clone()
    }

    fn behaviour(&self, name: &str) -> FakeBehaviour {
        self.lock()
            .behaviours
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    fn exit_later(&self, id: &ContainerId, after: Duration, status: ExitStatus) {
        let tx = match self.lock().containers.get(id) {
            Some(c) => c.exit.clone(),
            None => return,
        };
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            tx.send_if_modified(|s| {
                if s.is_none() {
                    *s = Some(status);
                    true
                } else {
                    false
                }
            });
        });
    }
}

impl Runtime for FakeRuntime {
    async fn create_sandbox(&self, spec: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        Ok(SandboxInfo {
            id: SandboxId(format!("sandbox-{}-{n}", spec.pod.name)),
            pod_ip: "127.0.0.1".into(),
        })
    }

    async fn remove_sandbox(&self, _id: &SandboxId) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn start_container(
        &self,
        _sandbox: &SandboxId,
        spec: &ContainerSpec,
    ) -> Result<StartedContainer, RuntimeError> {
        let b = self.behaviour(&spec.name);
        if b.start_fails {
            return Err(RuntimeError::StartContainer {
                pod: spec.pod.clone(),
                container: spec.name.clone(),
                program: spec.argv.first().cloned().unwrap_or_default(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = ContainerId(format!("{}-{}-{n}", spec.name, spec.restart_count));
        self.lock().containers.insert(
            id.clone(),
            Container {
                name: spec.name.clone(),
                exit: watch::channel(None).0,
            },
        );
        if let Some((after, code)) = b.exits_after {
            self.exit_later(
                &id,
                after,
                ExitStatus {
                    exit_code: code,
                    signal: None,
                },
            );
        }
        Ok(StartedContainer { id, pid: 1000 + n })
    }

    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus, RuntimeError> {
        let mut rx = match self.lock().containers.get(id) {
            Some(c) => c.exit.subscribe(),
            None => return Err(RuntimeError::ContainerNotFound(id.clone())),
        };
        let status = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::ContainerNotFound(id.clone()))?
            .unwrap_or(ExitStatus {
                exit_code: 137,
                signal: Some(9),
            });
        Ok(status)
    }

    fn signal(&self, id: &ContainerId, signal: Signal) -> Result<(), RuntimeError> {
        let name = match self.lock().containers.get(id) {
            Some(c) => c.name.clone(),
            None => return Err(RuntimeError::ContainerNotFound(id.clone())),
        };
        self.lock().signals.push((name.clone(), signal.to_string()));
        if signal == Signal::SIGKILL {
            self.exit_later(
                id,
                Duration::ZERO,
                ExitStatus {
                    exit_code: 137,
                    signal: Some(9),
                },
            );
        } else if let Some((after, code)) = self.behaviour(&name).on_stop_signal {
            self.exit_later(
                id,
                after,
                ExitStatus {
                    exit_code: code,
                    signal: None,
                },
            );
        }
        Ok(())
    }

    async fn exec_sync(
        &self,
        id: &ContainerId,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, RuntimeError> {
        let name = match self.lock().containers.get(id) {
            Some(c) => c.name.clone(),
            None => return Err(RuntimeError::ContainerNotFound(id.clone())),
        };
        self.lock().execs.push((name.clone(), argv.to_vec()));
        let (took, out) = self.behaviour(&name).exec;
        if let Some(t) = timeout {
            if took > t {
                tokio::time::sleep(t).await;
                return Err(RuntimeError::ExecTimeout {
                    argv: argv.to_vec(),
                    timeout: t,
                });
            }
        }
        tokio::time::sleep(took).await;
        Ok(out)
    }

    fn exec_command(
        &self,
        id: &ContainerId,
        argv: &[String],
    ) -> Result<tokio::process::Command, RuntimeError> {
        if !self.lock().containers.contains_key(id) {
            return Err(RuntimeError::ContainerNotFound(id.clone()));
        }
        // The fake has no container to enter: the command runs on the host.
        let mut cmd = tokio::process::Command::new(argv.first().map_or("true", String::as_str));
        cmd.args(argv.iter().skip(1));
        Ok(cmd)
    }

    fn attach_stdin(
        &self,
        id: &ContainerId,
    ) -> Result<tokio::net::unix::pipe::Sender, RuntimeError> {
        if !self.lock().containers.contains_key(id) {
            return Err(RuntimeError::ContainerNotFound(id.clone()));
        }
        Err(RuntimeError::NoStdin(id.clone()))
    }

    async fn exec_tty(&self, id: &ContainerId, argv: &[String]) -> Result<TtyExec, RuntimeError> {
        if !self.lock().containers.contains_key(id) {
            return Err(RuntimeError::ContainerNotFound(id.clone()));
        }
        Err(RuntimeError::Exec {
            container: id.clone(),
            argv: argv.to_vec(),
            source: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "the fake runtime has no terminals",
            ),
        })
    }

    async fn connect_tcp(
        &self,
        sandbox: &SandboxId,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<tokio::net::TcpStream, RuntimeError> {
        let err = |source| RuntimeError::Connect {
            sandbox: sandbox.clone(),
            addr,
            source,
        };
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(err(e)),
            Err(_) => Err(err(std::io::Error::from(std::io::ErrorKind::TimedOut))),
        }
    }
}
