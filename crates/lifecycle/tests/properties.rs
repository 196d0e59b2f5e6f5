//! Property tests of the pod machine: random small pods driven by a model of the runtime that
//! only ever answers what a runtime could really answer to the actions the machine emitted
//! (started after `StartContainer`, exited only while running, hooks finishing only while they
//! run, probe results only from started probe workers, deletions at any time), with time only
//! moving forward. The invariants are the kubelet's: sticky terminal phases, monotonic restart
//! counts, init containers before regular ones, signals only to running instances, and the
//! termination budget (grace period, then the 2 s floor).

mod support;

use proptest::prelude::*;
use support::{exec, init, plan, probe, regular, sidecar};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use podvisor_lifecycle::action::Action;
use podvisor_lifecycle::machine::{NodeInfo, PodMachine};
use podvisor_lifecycle::observation::{
    HandlerFailure, HookType, InstanceId, Observation, ProbeOutcome, StartFailure,
};
use podvisor_lifecycle::plan::{
    ContainerKind, ContainerPlan, ContainerRef, PodPlan, ProbeType, RestartPolicy,
};
use podvisor_lifecycle::signal::Signal;
use podvisor_lifecycle::time::{Timestamp, WallClock};

/// A stream of choices (from proptest or a fixed seed); exhausted streams answer 0.
struct Choices {
    data: Vec<u32>,
    pos: usize,
}

impl Choices {
    fn new(data: Vec<u32>) -> Self {
        Choices { data, pos: 0 }
    }
    /// A number in `0..n` (0 when `n` is 0).
    fn pick(&mut self, n: u32) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        if n == 0 {
            0
        } else {
            v % n
        }
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.pick(100) < percent
    }
    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// A random small pod: 0–2 init containers, 0–1 sidecar, 1–2 containers, optional hooks and
/// probes, random restart policy and grace.
fn random_plan(c: &mut Choices) -> PodPlan {
    let policy = [
        RestartPolicy::Always,
        RestartPolicy::OnFailure,
        RestartPolicy::Never,
    ][c.pick(3) as usize];
    let grace = [0, 1, 2, 5, 30][c.pick(5) as usize];
    let n_init = c.pick(3);
    let n_sidecar = c.pick(2);
    let n_regular = 1 + c.pick(2);
    let mut init: Vec<ContainerPlan> = (0..n_init).map(|i| init(&format!("init{i}"))).collect();
    if n_sidecar == 1 {
        let at = c.pick(n_init + 1) as usize;
        init.insert(at, sidecar("side"));
    }
    let mut regular: Vec<ContainerPlan> = (0..n_regular)
        .map(|i| regular(&format!("app{i}")))
        .collect();
    for k in init.iter_mut().chain(regular.iter_mut()) {
        if k.kind == ContainerKind::Init {
            continue;
        }
        if c.chance(30) {
            k.post_start = Some(exec("post"));
        }
        if c.chance(40) {
            k.pre_stop = Some(exec("pre"));
        }
        if c.chance(25) {
            let mut p = probe(1 + i64::from(c.pick(10)), 1 + i64::from(c.pick(3)));
            if c.chance(30) {
                p.termination_grace_period_seconds = Some(1 + i64::from(c.pick(20)));
            }
            k.startup_probe = Some(p);
        }
        if c.chance(30) {
            let mut p = probe(1 + i64::from(c.pick(10)), 1 + i64::from(c.pick(3)));
            if c.chance(30) {
                p.termination_grace_period_seconds = Some(1 + i64::from(c.pick(20)));
            }
            k.liveness_probe = Some(p);
        }
        if c.chance(30) {
            k.readiness_probe = Some(probe(1 + i64::from(c.pick(10)), 1 + i64::from(c.pick(3))));
        }
        if c.chance(10) {
            k.stop_signal = [Signal::SIGKILL, Signal::SIGQUIT][c.pick(2) as usize];
        }
        if k.kind == ContainerKind::Regular && c.chance(15) {
            k.restart_policy = Some(
                [
                    RestartPolicy::Always,
                    RestartPolicy::OnFailure,
                    RestartPolicy::Never,
                ][c.pick(3) as usize],
            );
        }
    }
    plan(init, regular, policy, grace)
}

/// What the machine asked for and what the runtime has.
#[derive(Default)]
struct Runtime {
    sandbox_pending: bool,
    /// Instances asked to start and not answered yet (created: bool).
    creating: BTreeMap<InstanceId, bool>,
    running: BTreeSet<InstanceId>,
    exited: BTreeSet<InstanceId>,
    hooks: Vec<(InstanceId, HookType)>,
    probes: BTreeSet<(InstanceId, ProbeType)>,
    sigkilled: BTreeSet<InstanceId>,
    /// Exit code of each container's latest exited instance (cleared when a new one starts).
    last_exit: BTreeMap<ContainerRef, i32>,
    removed: bool,
}

/// How late `decide` may run while `next_wakeup()` is stale (the engine then loops on it).
const ENGINE_SPIN: Duration = Duration::from_millis(100);

/// One step's record.
struct Step {
    now: Timestamp,
    observed: Option<Observation>,
    actions: Vec<Action>,
}

/// Runs `plan` against the runtime model for the choices; `check` sees the machine and runtime
/// after every `decide` (before the runtime has applied the actions) with that step's actions.
fn drive(
    plan: PodPlan,
    c: &mut Choices,
    max_steps: usize,
    mut check: impl FnMut(&PodMachine, &Runtime, Timestamp, &[Action]),
) -> (PodMachine, Vec<Step>) {
    let wall = WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let mut m = PodMachine::new(plan, wall, node, Timestamp::ZERO);
    let mut rt = Runtime::default();
    let mut now = Timestamp::ZERO;
    let mut steps = Vec::new();
    let mut observed: Option<Observation> = None;
    for _ in 0..max_steps {
        let actions = m.decide(now);
        check(&m, &rt, now, &actions);
        for a in &actions {
            apply(&mut rt, a);
        }
        steps.push(Step {
            now,
            observed: observed.take(),
            actions,
        });
        if m.is_finished() || c.exhausted() {
            break;
        }
        // Time moves forward: either to the machine's next wakeup or by a random step that
        // does not skip it (the engine's side of the contract: `decide` runs at the wakeup).
        // A wakeup already past (checked not to happen, see `next_wakeup_is_never_in_the_past`)
        // would make the engine call `decide` again at once, continuously: modelled as steps of
        // at most `ENGINE_SPIN`.
        let wake = m.next_wakeup();
        let stale = wake.is_some_and(|w| w <= now);
        match c.pick(4) {
            0 => {
                let mut step =
                    Duration::from_millis([0, 100, 900, 1000, 2500, 10_000][c.pick(6) as usize]);
                if stale {
                    step = step.min(ENGINE_SPIN);
                }
                let target = now + step;
                now = match wake {
                    Some(w) if w > now && w < target => w,
                    _ => target,
                };
            }
            1 => match wake {
                Some(w) if w > now => now = w,
                Some(_) => now = now + ENGINE_SPIN,
                None => {}
            },
            _ => {}
        }
        let obs = next_observation(&mut rt, c, now);
        if let Some(o) = &obs {
            m.observe(now, o.clone());
        }
        observed = obs;
    }
    (m, steps)
}

fn apply(rt: &mut Runtime, a: &Action) {
    match a {
        Action::CreateSandbox => rt.sandbox_pending = true,
        Action::StartContainer { instance } => {
            rt.creating.insert(*instance, false);
            rt.last_exit.remove(&instance.container);
        }
        Action::RunHook { instance, hook, .. } => {
            if !rt.hooks.contains(&(*instance, *hook)) {
                rt.hooks.push((*instance, *hook));
            }
        }
        Action::Signal {
            instance, signal, ..
        } => {
            if *signal == Signal::SIGKILL {
                rt.sigkilled.insert(*instance);
            }
        }
        Action::StartProbe {
            instance,
            probe_type,
        } => {
            rt.probes.insert((*instance, *probe_type));
        }
        Action::StopProbe {
            instance,
            probe_type,
        } => {
            rt.probes.remove(&(*instance, *probe_type));
        }
        Action::RecordEvent(_) => {}
        Action::RemoveSandbox => rt.removed = true,
    }
}

/// One observation a runtime could really produce now, or `None` (only time passes).
fn next_observation(rt: &mut Runtime, c: &mut Choices, now: Timestamp) -> Option<Observation> {
    let kinds = 7;
    for _ in 0..kinds {
        match c.pick(kinds) {
            0 if rt.sandbox_pending => {
                rt.sandbox_pending = false;
                return Some(match c.pick(10) {
                    0 => Observation::SandboxFailed {
                        message: "boom".into(),
                    },
                    1 => Observation::MountFailed {
                        message: "no".into(),
                    },
                    _ => Observation::SandboxReady {
                        pod_ip: "127.244.0.2".into(),
                    },
                });
            }
            1 if !rt.creating.is_empty() => {
                let ids: Vec<(InstanceId, bool)> =
                    rt.creating.iter().map(|(k, v)| (*k, *v)).collect();
                let (id, created) = ids[c.pick(ids.len() as u32) as usize];
                return Some(match c.pick(10) {
                    0 => {
                        rt.creating.remove(&id);
                        // Config and create errors happen before the runtime created it.
                        let reason = if created {
                            StartFailure::RunContainerError
                        } else {
                            [
                                StartFailure::CreateContainerConfigError,
                                StartFailure::CreateContainerError,
                                StartFailure::RunContainerError,
                            ][c.pick(3) as usize]
                        };
                        if reason == StartFailure::RunContainerError {
                            rt.exited.insert(id);
                            rt.last_exit.insert(id.container, 128);
                        }
                        Observation::ContainerStartFailed {
                            instance: id,
                            reason,
                            message: "nope".into(),
                        }
                    }
                    1 | 2 if !created => {
                        rt.creating.insert(id, true);
                        Observation::ContainerCreated { instance: id }
                    }
                    _ => {
                        rt.creating.remove(&id);
                        rt.running.insert(id);
                        Observation::ContainerStarted {
                            instance: id,
                            at: now,
                        }
                    }
                });
            }
            2 if !rt.running.is_empty() => {
                let ids: Vec<InstanceId> = rt.running.iter().copied().collect();
                let id = ids[c.pick(ids.len() as u32) as usize];
                rt.running.remove(&id);
                rt.exited.insert(id);
                let killed = rt.sigkilled.contains(&id);
                let (exit_code, signal) = if killed {
                    (137, Some(9))
                } else {
                    [(0, None), (1, None), (143, None), (2, None)][c.pick(4) as usize]
                };
                rt.last_exit.insert(id.container, exit_code);
                return Some(Observation::ContainerExited {
                    instance: id,
                    at: now,
                    exit_code,
                    signal,
                    termination_message: c.chance(20).then(|| "bye".to_string()),
                });
            }
            3 if !rt.hooks.is_empty() => {
                let hs: Vec<(InstanceId, HookType)> = rt.hooks.clone();
                let (id, hook) = hs[c.pick(hs.len() as u32) as usize];
                rt.hooks.retain(|h| *h != (id, hook));
                let result = if c.chance(70) {
                    Ok(())
                } else {
                    Err(HandlerFailure {
                        error: "command 'false' exited with 1: ".into(),
                        output: String::new(),
                    })
                };
                return Some(Observation::HookFinished {
                    instance: id,
                    hook,
                    result,
                });
            }
            4 if !rt.probes.is_empty() => {
                let ps: Vec<(InstanceId, ProbeType)> = rt.probes.iter().copied().collect();
                let (id, probe_type) = ps[c.pick(ps.len() as u32) as usize];
                if !rt.running.contains(&id) {
                    continue;
                }
                let outcome = match c.pick(6) {
                    0 | 1 => ProbeOutcome::Success,
                    2 => ProbeOutcome::Warning("302".into()),
                    3 => ProbeOutcome::Error("timeout".into()),
                    _ => ProbeOutcome::Failure("503".into()),
                };
                return Some(Observation::ProbeResult {
                    instance: id,
                    probe_type,
                    outcome,
                });
            }
            5 if c.chance(6) => {
                let grace_period_seconds =
                    [None, Some(0), Some(1), Some(3), Some(60)][c.pick(5) as usize];
                return Some(Observation::DeleteRequested {
                    grace_period_seconds,
                });
            }
            6 => return None,
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------- the properties

/// `Stopping container` kills: each instance must be SIGKILLed or gone by `deadline` (the grace,
/// the 2 s floor, one more second for a sidecar's truncated ordering wait, and the driver's
/// `ENGINE_SPIN`).
struct KillBudget {
    id: InstanceId,
    deadline: Timestamp,
}

fn check_run(data: Vec<u32>) -> Result<(), TestCaseError> {
    let mut c = Choices::new(data);
    let plan = random_plan(&mut c);
    let spec_grace = plan.termination_grace_period_seconds;
    let mut terminal: Option<String> = None;
    let mut restarts: BTreeMap<String, i32> = BTreeMap::new();
    let mut budgets: Vec<KillBudget> = Vec::new();
    let mut failure: Option<String> = None;
    let mut fail = |msg: String| {
        if failure.is_none() {
            failure = Some(msg);
        }
    };
    let summary = format!(
        "policy {:?}, grace {spec_grace}, init {:?}, containers {:?}",
        plan.restart_policy,
        plan.init_containers
            .iter()
            .map(|c| (
                &c.name,
                c.kind,
                c.pre_stop.is_some(),
                c.post_start.is_some()
            ))
            .collect::<Vec<_>>(),
        plan.containers
            .iter()
            .map(|c| (
                &c.name,
                c.restart_policy,
                c.pre_stop.is_some(),
                c.post_start.is_some()
            ))
            .collect::<Vec<_>>(),
    );
    let (_, steps) = drive(plan, &mut c, 400, |m, rt, now, actions| {
        let status = m.status();
        // A terminal phase is sticky: once the status showed one, it shows it for good, and the
        // machine's final phase is that one.
        let phase = status.phase.clone().unwrap_or_default();
        match &terminal {
            Some(t) if *t != phase => fail(format!("{now}: phase left {t} for {phase}")),
            None if phase == "Succeeded" || phase == "Failed" => terminal = Some(phase.clone()),
            _ => {}
        }
        if let Some(p) = m.terminal_phase() {
            if p.as_str() != phase {
                fail(format!("{now}: terminal {p:?} but the status says {phase}"));
            }
        }
        // restartCount never decreases, also while an instance is being created and when its
        // creation fails (CreateContainerConfigError / CreateContainerError).
        for s in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            let seen = restarts.entry(s.name.clone()).or_insert(s.restart_count);
            if s.restart_count < *seen {
                fail(format!(
                    "{now}: restartCount of {} went from {seen} to {}",
                    s.name, s.restart_count
                ));
            }
            *seen = s.restart_count;
        }
        // After a `decide`, a wakeup is always in the future (a past one makes the engine spin).
        if let Some(w) = m.next_wakeup() {
            if w <= now {
                fail(format!("{now}: next_wakeup() is {w}, not after the decide"));
            }
        }
        for a in actions {
            match a {
                // No regular container before every regular init container completed.
                Action::StartContainer { instance } => {
                    if let ContainerRef::Regular(_) = instance.container {
                        for (i, ic) in m.plan().init_containers.iter().enumerate() {
                            if ic.kind == ContainerKind::Init
                                && rt.last_exit.get(&ContainerRef::Init(i)) != Some(&0)
                            {
                                fail(format!(
                                    "{now}: {} started before init container {} completed",
                                    m.plan().container(instance.container).name,
                                    ic.name
                                ));
                            }
                        }
                    }
                }
                // Signals only go to running instances.
                Action::Signal {
                    instance, signal, ..
                } if !rt.running.contains(instance) => {
                    fail(format!(
                        "{now}: {signal} to {instance:?}, which is not running"
                    ));
                }
                // A pod-termination kill gets its grace, then at most the 2 s floor (sidecars
                // may lose up to one more second to whole-second truncation of their wait).
                Action::RecordEvent(e)
                    if e.reason == "Killing" && e.message.starts_with("Stopping container ") =>
                {
                    let name = e.message.trim_start_matches("Stopping container ");
                    let Some(r) = m
                        .plan()
                        .container_refs()
                        .find(|r| m.plan().container(*r).name == name)
                    else {
                        fail(format!("{now}: Killing for unknown container {name}"));
                        continue;
                    };
                    let Some(id) = rt.running.iter().copied().find(|i| i.container == r) else {
                        fail(format!(
                            "{now}: Stopping container {name}, which is not running"
                        ));
                        continue;
                    };
                    // The pod worker's grace: the API's deletionGracePeriodSeconds, at least 1.
                    let grace = m.deletion().map_or(spec_grace, |(_, g)| g.max(1));
                    let slack = if m.plan().container(r).kind == ContainerKind::Sidecar {
                        3
                    } else {
                        2
                    };
                    budgets.push(KillBudget {
                        id,
                        deadline: now
                            + Duration::from_secs(u64::try_from(grace.max(0)).unwrap_or(0) + slack)
                            + ENGINE_SPIN,
                    });
                }
                _ => {}
            }
        }
        for b in &budgets {
            let killed = actions.iter().any(|a| matches!(a, Action::Signal { instance, signal: Signal::SIGKILL, .. } if *instance == b.id));
            if now >= b.deadline
                && !killed
                && !rt.sigkilled.contains(&b.id)
                && !rt.exited.contains(&b.id)
            {
                fail(format!(
                    "{now}: {:?} neither SIGKILLed nor exited by {}",
                    b.id, b.deadline
                ));
            }
        }
    });
    match failure {
        Some(f) => {
            let mut trace = String::new();
            for st in &steps {
                trace.push_str(&format!("{} {:?}\n", st.now, st.observed));
                for a in &st.actions {
                    match a {
                        Action::RecordEvent(e) => {
                            trace.push_str(&format!("    event {}: {}\n", e.reason, e.message))
                        }
                        a => trace.push_str(&format!("    {a:?}\n")),
                    }
                }
            }
            Err(TestCaseError::fail(format!("{f}\n{summary}\n{trace}")))
        }
        None => Ok(()),
    }
}

proptest! {
    // Deterministic, like the other fuzz-style tests: a fixed seed and no regression files.
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_0f90_d500),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_machine_keeps_the_kubelets_invariants(data in prop::collection::vec(any::<u32>(), 50..600)) {
        check_run(data)?;
    }
}

/// Regression (was a known bug): the kubelet's status cannot show an instance before the runtime
/// created it, so a failed creation never lowers `restartCount`; podvisor showed the new count as
/// soon as `StartContainer` was decided and dropped back when the creation failed.
#[test]
fn restart_count_is_not_shown_before_the_runtime_created_the_instance() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Always, 30);
    let wall = WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let mut m = PodMachine::new(p, wall, node, Timestamp::ZERO);
    let restart_count = |m: &PodMachine| m.status().container_statuses.unwrap()[0].restart_count;
    m.decide(Timestamp::ZERO);
    m.observe(
        Timestamp::ZERO,
        Observation::SandboxReady {
            pod_ip: "127.244.0.2".into(),
        },
    );
    m.decide(Timestamp::ZERO);
    let first = InstanceId {
        container: ContainerRef::Regular(0),
        restart_count: 0,
    };
    m.observe(
        Timestamp::ZERO,
        Observation::ContainerStarted {
            instance: first,
            at: Timestamp::ZERO,
        },
    );
    m.observe(
        Timestamp::from_secs(1),
        Observation::ContainerExited {
            instance: first,
            at: Timestamp::from_secs(1),
            exit_code: 1,
            signal: None,
            termination_message: None,
        },
    );
    assert_eq!(restart_count(&m), 0);
    // The restart is decided: no container #1 exists in the runtime yet.
    m.decide(Timestamp::from_secs(1));
    assert_eq!(restart_count(&m), 0, "shown before the runtime created it");
    let second = InstanceId {
        container: ContainerRef::Regular(0),
        restart_count: 1,
    };
    // The creation fails: nothing was created, nothing to take back.
    m.observe(
        Timestamp::from_secs(1),
        Observation::ContainerStartFailed {
            instance: second,
            reason: StartFailure::CreateContainerConfigError,
            message: "configmap \"x\" not found".into(),
        },
    );
    m.decide(Timestamp::from_secs(1));
    assert_eq!(restart_count(&m), 0);
    // The retry after the sync back-off is created by the runtime: now it counts.
    let retry = m.decide(Timestamp::from_secs(11));
    assert!(retry.contains(&Action::StartContainer { instance: second }));
    assert_eq!(restart_count(&m), 0);
    m.observe(
        Timestamp::from_secs(11),
        Observation::ContainerCreated { instance: second },
    );
    assert_eq!(restart_count(&m), 1);
}

/// Regression (was a known bug): the kubelet never lets the phase leave Succeeded/Failed
/// (`generateAPIPodStatus` forces a computed phase back to the terminal one the status manager or
/// the API server has); podvisor computed the phase afresh until the pod was finished, so a
/// sidecar restart in flight when the last regular container of a `Never` pod exits turned
/// `Failed` back into `Running`.
#[test]
fn a_computed_terminal_phase_is_never_left() {
    let p = plan(
        vec![sidecar("side")],
        vec![regular("app")],
        RestartPolicy::Never,
        30,
    );
    let wall = WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let mut m = PodMachine::new(p, wall, node, Timestamp::ZERO);
    let t = Timestamp::from_secs(1);
    let side = |restart_count| InstanceId {
        container: ContainerRef::Init(0),
        restart_count,
    };
    let app = InstanceId {
        container: ContainerRef::Regular(0),
        restart_count: 0,
    };
    let exited = |instance, exit_code| Observation::ContainerExited {
        instance,
        at: t,
        exit_code,
        signal: None,
        termination_message: None,
    };
    m.decide(t);
    m.observe(
        t,
        Observation::SandboxReady {
            pod_ip: "127.244.0.2".into(),
        },
    );
    m.decide(t);
    m.observe(
        t,
        Observation::ContainerStarted {
            instance: side(0),
            at: t,
        },
    );
    assert!(m
        .decide(t)
        .contains(&Action::StartContainer { instance: app }));
    m.observe(t, exited(side(0), 0));
    m.observe(
        t,
        Observation::ContainerStarted {
            instance: app,
            at: t,
        },
    );
    assert!(m
        .decide(t)
        .contains(&Action::StartContainer { instance: side(1) }));
    m.observe(t, exited(app, 1));
    assert_eq!(m.status().phase.as_deref(), Some("Failed"));
    m.observe(
        t,
        Observation::ContainerStarted {
            instance: side(1),
            at: t,
        },
    );
    assert_eq!(
        m.status().phase.as_deref(),
        Some("Failed"),
        "left a terminal phase"
    );
    // SyncPod saw a terminal phase: the worker stops what still runs, and the pod ends Failed.
    let actions = m.decide(t);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Signal { instance, signal: Signal::SIGTERM, .. } if *instance == side(1)
    )));
    assert_eq!(m.status().phase.as_deref(), Some("Failed"));
    m.observe(t, exited(side(1), 143));
    m.decide(t);
    assert!(m.is_finished());
    assert_eq!(
        m.terminal_phase(),
        Some(podvisor_lifecycle::phase::Phase::Failed)
    );
}

/// Regression (was a known bug): a container's start back-off (`not_before`, after a config
/// error) was never cleared once the pod terminated, so `next_wakeup()` returned a time already
/// past (the engine then re-ran `decide` in a busy loop) and hid the real next deadline.
#[test]
fn next_wakeup_is_never_in_the_past() {
    let mut a = regular("a");
    a.pre_stop = Some(exec("sleep 100"));
    let p = plan(vec![], vec![a, regular("b")], RestartPolicy::Always, 30);
    let wall = WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let mut m = PodMachine::new(p, wall, node, Timestamp::ZERO);
    let t0 = Timestamp::ZERO;
    let a0 = InstanceId {
        container: ContainerRef::Regular(0),
        restart_count: 0,
    };
    let b0 = InstanceId {
        container: ContainerRef::Regular(1),
        restart_count: 0,
    };
    m.decide(t0);
    m.observe(
        t0,
        Observation::SandboxReady {
            pod_ip: "127.244.0.2".into(),
        },
    );
    m.decide(t0);
    m.observe(
        t0,
        Observation::ContainerStarted {
            instance: a0,
            at: t0,
        },
    );
    assert!(m
        .decide(t0)
        .contains(&Action::StartContainer { instance: b0 }));
    m.observe(
        t0,
        Observation::ContainerStartFailed {
            instance: b0,
            reason: StartFailure::CreateContainerConfigError,
            message: "configmap \"x\" not found".into(),
        },
    );
    m.decide(t0);
    let t20 = Timestamp::from_secs(20);
    m.observe(
        t20,
        Observation::DeleteRequested {
            grace_period_seconds: None,
        },
    );
    m.decide(t20);
    // The only thing left to wait for is a's preStop deadline, at 50 s.
    assert_eq!(m.next_wakeup(), Some(Timestamp::from_secs(50)));
}

/// While the worker is busy (here: a postStart hook that runs for minutes), a start back-off of
/// another container is not acted on, so it is no wakeup: it would be one at first and, once
/// past, make the engine spin.
#[test]
fn a_start_back_off_is_no_wakeup_while_the_worker_is_busy() {
    let mut a = regular("a");
    a.post_start = Some(exec("sleep 600"));
    let p = plan(vec![], vec![regular("b"), a], RestartPolicy::Always, 30);
    let wall = WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let mut m = PodMachine::new(p, wall, node, Timestamp::ZERO);
    let t0 = Timestamp::ZERO;
    let b0 = InstanceId {
        container: ContainerRef::Regular(0),
        restart_count: 0,
    };
    let a0 = InstanceId {
        container: ContainerRef::Regular(1),
        restart_count: 0,
    };
    m.decide(t0);
    m.observe(
        t0,
        Observation::SandboxReady {
            pod_ip: "127.244.0.2".into(),
        },
    );
    assert!(m
        .decide(t0)
        .contains(&Action::StartContainer { instance: b0 }));
    m.observe(
        t0,
        Observation::ContainerStartFailed {
            instance: b0,
            reason: StartFailure::CreateContainerConfigError,
            message: "configmap \"x\" not found".into(),
        },
    );
    assert!(m
        .decide(t0)
        .contains(&Action::StartContainer { instance: a0 }));
    m.observe(
        t0,
        Observation::ContainerStarted {
            instance: a0,
            at: t0,
        },
    );
    m.decide(t0);
    // a's postStart runs: the worker is blocked, b's retry at 10 s cannot happen.
    assert_eq!(m.next_wakeup(), None);
    let t12 = Timestamp::from_secs(12);
    assert!(m.decide(t12).is_empty());
    assert_eq!(m.next_wakeup(), None);
    // postStart returned: b is retried at once (its back-off is over; the instance the runtime
    // never created took no restart count).
    m.observe(
        t12,
        Observation::HookFinished {
            instance: a0,
            hook: HookType::PostStart,
            result: Ok(()),
        },
    );
    assert!(m
        .decide(t12)
        .contains(&Action::StartContainer { instance: b0 }));
}
