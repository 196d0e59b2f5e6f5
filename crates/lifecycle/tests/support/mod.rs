//! A scripted, pure simulation of the engine around a `PodMachine`: container behaviours and
//! hook/probe outcomes are scripted, time is virtual, and the rendered timeline is compared
//! with a golden text.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ExecAction, Lifecycle, LifecycleHandler, Pod, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podvisor_lifecycle::action::Action;
use podvisor_lifecycle::machine::{NodeInfo, PodMachine};
use podvisor_lifecycle::observation::{
    HandlerFailure, HookType, InstanceId, Observation, ProbeOutcome,
};
use podvisor_lifecycle::plan::*;
use podvisor_lifecycle::signal::Signal;
use podvisor_lifecycle::time::{Timestamp, WallClock};

/// How a container instance behaves.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Exits by itself after this long with this code.
    pub exits: Option<(Duration, i32)>,
    /// On the stop signal: exit after this long with this code; `None` ignores it (PID 1 `sh`).
    pub on_term: Option<(Duration, i32)>,
    /// postStart takes this long and succeeds (Ok) or fails (Err).
    pub post_start: (Duration, bool),
    /// preStop takes this long and succeeds or fails.
    pub pre_stop: (Duration, bool),
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            exits: None,
            on_term: Some((Duration::ZERO, 143)),
            post_start: (Duration::ZERO, true),
            pre_stop: (Duration::ZERO, true),
        }
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Probe script: outcome for (container, probe type, attempt index since instance start).
pub type ProbeScript = Box<dyn Fn(&str, ProbeType, i32, u32) -> ProbeOutcome>;

pub struct Sim {
    pub machine: PodMachine,
    pub now: Timestamp,
    queue: Vec<(Timestamp, u64, Observation)>,
    seq: u64,
    pub behaviours: BTreeMap<(String, i32), Behaviour>,
    pub default_behaviour: BTreeMap<String, Behaviour>,
    pub lines: Vec<String>,
    probes: BTreeMap<(InstanceId, ProbeType), (Timestamp, u32, bool)>,
    pub probe_script: Option<ProbeScript>,
    alive: BTreeMap<InstanceId, bool>,
    /// Every `Action::Signal`, in order.
    pub signals: Vec<SignalRecord>,
}

/// One `Action::Signal` the simulation executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalRecord {
    /// When it was sent.
    pub at: Timestamp,
    /// The container's name.
    pub container: String,
    /// The signal.
    pub signal: Signal,
    /// The action's `kill_deadline`.
    pub kill_deadline: Option<Timestamp>,
}

impl Sim {
    pub fn new(plan: PodPlan) -> Self {
        let wall = WallClock {
            epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
        };
        let node = NodeInfo {
            node_name: "node".into(),
            host_ip: "127.0.0.1".into(),
        };
        Sim {
            machine: PodMachine::new(plan, wall, node, Timestamp::ZERO),
            now: Timestamp::ZERO,
            queue: Vec::new(),
            seq: 0,
            behaviours: BTreeMap::new(),
            default_behaviour: BTreeMap::new(),
            lines: Vec::new(),
            probes: BTreeMap::new(),
            probe_script: None,
            alive: BTreeMap::new(),
            signals: Vec::new(),
        }
    }

    pub fn behave(mut self, name: &str, b: Behaviour) -> Self {
        self.default_behaviour.insert(name.to_string(), b);
        self
    }

    pub fn behave_instance(mut self, name: &str, restart: i32, b: Behaviour) -> Self {
        self.behaviours.insert((name.to_string(), restart), b);
        self
    }

    fn behaviour(&self, id: InstanceId) -> Behaviour {
        let name = self.name(id);
        self.behaviours
            .get(&(name.clone(), id.restart_count))
            .or_else(|| self.default_behaviour.get(&name))
            .cloned()
            .unwrap_or_default()
    }

    fn name(&self, id: InstanceId) -> String {
        self.machine.plan().container(id.container).name.clone()
    }

    fn push(&mut self, at: Timestamp, obs: Observation) {
        self.seq += 1;
        self.queue.push((at, self.seq, obs));
    }

    fn log(&mut self, what: String) {
        self.lines.push(format!(
            "{:>8} {what}",
            format!("{:.1}", self.now.since_start().as_secs_f64())
        ));
    }

    /// Schedules an exit; the first exit delivered for an instance wins.
    fn exit(&mut self, id: InstanceId, at: Timestamp, code: i32, signal: Option<i32>) {
        self.push(
            at,
            Observation::ContainerExited {
                instance: id,
                at,
                exit_code: code,
                signal,
                termination_message: None,
            },
        );
    }

    fn execute(&mut self, a: Action) {
        let now = self.now;
        match a {
            Action::CreateSandbox => {
                self.log("sandbox create".into());
                self.push(
                    now,
                    Observation::SandboxReady {
                        pod_ip: "127.244.0.2".into(),
                    },
                );
            }
            Action::RemoveSandbox => self.log("sandbox remove".into()),
            Action::StartContainer { instance } => {
                self.log(format!(
                    "start {} #{}",
                    self.name(instance),
                    instance.restart_count
                ));
                self.alive.insert(instance, true);
                self.push(now, Observation::ContainerCreated { instance });
                self.push(now, Observation::ContainerStarted { instance, at: now });
                if let Some((d, code)) = self.behaviour(instance).exits {
                    self.exit(instance, now + d, code, None);
                }
            }
            Action::RunHook { instance, hook, .. } => {
                let b = self.behaviour(instance);
                let (d, ok) = match hook {
                    HookType::PostStart => b.post_start,
                    HookType::PreStop => b.pre_stop,
                };
                self.log(format!("{} {:?} run", self.name(instance), hook));
                let result = if ok {
                    Ok(())
                } else {
                    Err(HandlerFailure {
                        error: "command 'false' exited with 1: ".into(),
                        output: String::new(),
                    })
                };
                self.push(
                    now + d,
                    Observation::HookFinished {
                        instance,
                        hook,
                        result,
                    },
                );
            }
            Action::Signal {
                instance,
                signal,
                kill_deadline,
            } => {
                self.log(format!("{} {signal}", self.name(instance)));
                self.signals.push(SignalRecord {
                    at: now,
                    container: self.name(instance),
                    signal,
                    kill_deadline,
                });
                if self.alive.get(&instance) != Some(&true) {
                    return;
                }
                if signal == Signal::SIGKILL {
                    self.exit(instance, now, 137, Some(9));
                } else if let Some((d, code)) = self.behaviour(instance).on_term {
                    self.exit(instance, now + d, code, None);
                }
            }
            Action::StartProbe {
                instance,
                probe_type,
            } => {
                self.log(format!(
                    "{} {:?} probe start",
                    self.name(instance),
                    probe_type
                ));
                self.probes.insert((instance, probe_type), (now, 0, true));
            }
            Action::StopProbe {
                instance,
                probe_type,
            } => {
                self.probes.remove(&(instance, probe_type));
            }
            Action::RecordEvent(e) => {
                let c = e.field_path.map(|p| format!(" {p}")).unwrap_or_default();
                self.log(format!(
                    "event {} {}{c}: {}",
                    e.event_type.as_str(),
                    e.reason,
                    e.message
                ));
            }
        }
    }

    /// Runs until the pod is finished or `until`.
    pub fn run(&mut self, until: Duration) -> &mut Self {
        let end = Timestamp::ZERO + until;
        loop {
            let actions = self.machine.decide(self.now);
            for a in actions {
                self.execute(a);
            }
            if self.machine.is_finished() {
                break;
            }
            // The next time something happens.
            let mut next: Option<Timestamp> = self.machine.next_wakeup();
            let mut consider = |t: Timestamp| next = Some(next.map_or(t, |n: Timestamp| n.min(t)));
            for (t, _, _) in &self.queue {
                consider(*t);
            }
            for ((id, pt), (started, n, _)) in &self.probes {
                let p = self
                    .machine
                    .plan()
                    .container(id.container)
                    .probe(*pt)
                    .unwrap();
                consider(*started + p.period() * *n);
            }
            let Some(mut t) = next else { break };
            if t > end {
                break;
            }
            if t < self.now {
                t = self.now;
            }
            self.now = t;
            // Deliver due observations in order.
            self.queue.sort_by_key(|(t, s, _)| (*t, *s));
            let due: Vec<_> = {
                let n = self
                    .queue
                    .iter()
                    .take_while(|(t, _, _)| *t <= self.now)
                    .count();
                self.queue.drain(..n).collect()
            };
            for (_, _, obs) in due {
                self.deliver(obs);
            }
            // Probe attempts due now.
            let due: Vec<(InstanceId, ProbeType)> = self
                .probes
                .iter()
                .filter(|((id, pt), (st, n, _))| {
                    let p = self
                        .machine
                        .plan()
                        .container(id.container)
                        .probe(*pt)
                        .unwrap();
                    *st + p.period() * *n <= self.now
                })
                .map(|(k, _)| *k)
                .collect();
            for (id, pt) in due {
                let Some(entry) = self.probes.get_mut(&(id, pt)) else {
                    continue;
                };
                let attempt = entry.1;
                entry.1 += 1;
                let p = self
                    .machine
                    .plan()
                    .container(id.container)
                    .probe(pt)
                    .unwrap()
                    .clone();
                let since = self.now.whole_seconds_since(entry.0);
                if since < p.initial_delay_seconds {
                    continue;
                }
                let name = self.name(id);
                let outcome = match &self.probe_script {
                    Some(f) => f(&name, pt, id.restart_count, attempt),
                    None => ProbeOutcome::Success,
                };
                self.machine.observe(
                    self.now,
                    Observation::ProbeResult {
                        instance: id,
                        probe_type: pt,
                        outcome,
                    },
                );
            }
        }
        self
    }

    fn deliver(&mut self, obs: Observation) {
        if let Observation::ContainerExited {
            instance,
            exit_code,
            signal,
            ..
        } = &obs
        {
            if self.alive.get(instance) != Some(&true) {
                return;
            }
            self.alive.insert(*instance, false);
            let sig = signal.map(|s| format!(" signal {s}")).unwrap_or_default();
            self.log(format!("{} exited {exit_code}{sig}", self.name(*instance)));
        }
        self.machine.observe(self.now, obs);
    }

    pub fn delete(&mut self, at: Duration, grace: Option<i64>) -> &mut Self {
        self.run(at);
        self.now = Timestamp::ZERO + at;
        self.log(format!("delete grace={grace:?}"));
        self.machine.observe(
            self.now,
            Observation::DeleteRequested {
                grace_period_seconds: grace,
            },
        );
        self
    }

    pub fn timeline(&self) -> String {
        self.lines.join("\n")
    }

    /// Timeline lines without events of the given reasons (to keep goldens short).
    pub fn lines_without(&self, reasons: &[&str]) -> String {
        self.lines
            .iter()
            .filter(|l| {
                !reasons
                    .iter()
                    .any(|r| l.contains(&format!(" {r} ")) || l.contains(&format!(" {r}:")))
            })
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---------------------------------------------------------------- plan building

pub fn container(name: &str, kind: ContainerKind, r: ContainerRef) -> ContainerPlan {
    ContainerPlan {
        name: name.into(),
        kind,
        container_ref: r,
        image: "busybox".into(),
        command: vec!["sh".into(), "-c".into(), "true".into()],
        args: vec![],
        working_dir: String::new(),
        post_start: None,
        pre_stop: None,
        stop_signal: Signal::SIGTERM,
        startup_probe: None,
        liveness_probe: None,
        readiness_probe: None,
        restart_policy: if kind == ContainerKind::Sidecar {
            Some(RestartPolicy::Always)
        } else {
            None
        },
        termination_message_path: "/dev/termination-log".into(),
        termination_message_policy: TerminationMessagePolicy::File,
        volume_mounts: vec![],
        ports: vec![],
    }
}

pub fn exec(cmd: &str) -> HandlerPlan {
    HandlerPlan::Exec {
        command: vec!["sh".into(), "-c".into(), cmd.into()],
    }
}

pub fn probe(period: i64, failure_threshold: i64) -> ProbePlan {
    ProbePlan {
        handler: exec("true"),
        initial_delay_seconds: 0,
        timeout_seconds: 1,
        period_seconds: period,
        success_threshold: 1,
        failure_threshold,
        termination_grace_period_seconds: None,
    }
}

pub fn plan(
    init: Vec<ContainerPlan>,
    regular: Vec<ContainerPlan>,
    policy: RestartPolicy,
    grace: i64,
) -> PodPlan {
    let mut init = init;
    let mut regular = regular;
    for (i, c) in init.iter_mut().enumerate() {
        c.container_ref = ContainerRef::Init(i);
    }
    for (i, c) in regular.iter_mut().enumerate() {
        c.container_ref = ContainerRef::Regular(i);
    }
    let to_api = |c: &ContainerPlan| Container {
        name: c.name.clone(),
        image: Some(c.image.clone()),
        lifecycle: c.pre_stop.as_ref().map(|_| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec!["true".into()]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("uid-1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: regular.iter().map(to_api).collect(),
            init_containers: (!init.is_empty()).then(|| init.iter().map(to_api).collect()),
            ..Default::default()
        }),
        status: None,
    };
    PodPlan {
        key: PodKey {
            namespace: "default".into(),
            name: "web".into(),
        },
        uid: "uid-1".into(),
        pod,
        restart_policy: policy,
        termination_grace_period_seconds: grace,
        init_containers: init,
        containers: regular,
        hostname: "web".into(),
        share_process_namespace: false,
        readiness_gates: vec![],
        labels: Default::default(),
    }
}

pub fn regular(name: &str) -> ContainerPlan {
    container(name, ContainerKind::Regular, ContainerRef::Regular(0))
}
pub fn init(name: &str) -> ContainerPlan {
    container(name, ContainerKind::Init, ContainerRef::Init(0))
}
pub fn sidecar(name: &str) -> ContainerPlan {
    container(name, ContainerKind::Sidecar, ContainerRef::Init(0))
}
