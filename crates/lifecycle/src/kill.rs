//! The kill sequence of one container and of a whole pod. Mirrors `killContainer`
//! (pkg/kubelet/kuberuntime/kuberuntime_container.go): compute the grace period
//! (`setTerminationGracePeriod`), record `Killing`, run preStop with the grace as its budget
//! (`executePreStopHook`), subtract the whole seconds it took, wait for the sidecar termination
//! order (`terminationOrdering.waitForTurn`, kuberuntime_termination_order.go), floor the rest
//! at 2 s (`minimumGracePeriodInSeconds`) and stop the container: the stop signal, then
//! `SIGKILL` at the deadline (what the runtime's `StopContainer(timeout)` does). And
//! `killContainersWithSyncResult` / `killPodWithSyncResult`: every running container in
//! parallel, sidecars after the regular containers in reverse order. See kubelet-semantics.md
//! §3.1–§3.5, §3.9.
//!
//! The kubelet blocks a goroutine per container; the machine cannot block, so each wait is a
//! [`KillStage`] that a fact (`HookFinished`, `ContainerExited`) or a deadline (`decide` at or
//! after it) ends. The functions below are in the order a kill goes through them.

use std::time::Duration;

use crate::action::{Action, EventType};
use crate::grace::{self, KillReason};
use crate::machine::PodMachine;
use crate::observation::{HookType, InstanceId};
use crate::plan::{ContainerKind, ContainerRef, HandlerPlan, ProbeType};
use crate::signal::Signal;
use crate::time::Timestamp;

/// Where one instance is in `killContainer`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KillStage {
    /// The preStop hook runs (or, when `deadline == started`, there is none to run): the
    /// stop signal waits until it returns or `deadline` (the whole grace) passes.
    PreStop {
        /// When the kill began.
        started: Timestamp,
        /// `started + grace`; equal to `started` when no preStop runs.
        deadline: Timestamp,
    },
    /// A sidecar waits for its prerequisites (regular containers, later sidecars) to exit,
    /// at most until `deadline` (the grace left after preStop).
    Ordering {
        /// When the wait began.
        since: Timestamp,
        /// `since + remaining grace`.
        deadline: Timestamp,
    },
    /// The stop signal was sent; `SIGKILL` follows at `sigkill_at` unless the instance exits.
    Stopping {
        /// Stop signal time + the stop timeout (remaining grace, floored at 2 s).
        sigkill_at: Timestamp,
    },
    /// `SIGKILL` was sent, or the instance exited: nothing more to do.
    Killed,
}

/// One instance's kill in progress.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kill {
    /// The grace left, in whole seconds (preStop and the ordering wait subtract from it).
    pub(crate) grace: i64,
    /// Where the kill is.
    pub(crate) stage: KillStage,
    /// Containers that must have exited before the stop signal (sidecar termination order).
    pub(crate) prerequisites: Vec<ContainerRef>,
}

impl PodMachine {
    /// `killPodWithSyncResult` → `killContainersWithSyncResult`: every running container at
    /// once; with sidecars, a termination ordering (`newTerminationOrdering`) makes each sidecar
    /// wait for the regular containers and for the next sidecar in spec order, so they stop
    /// after the regular containers in reverse order. Liveness and startup workers stop here
    /// (`StopLivenessAndStartup`); readiness keeps running. `grace_override` is the deletion's
    /// effective grace (`None` when the pod completed by itself).
    pub(crate) fn kill_pod(&mut self, now: Timestamp, grace_override: Option<i64>) {
        let ordered = self.plan.has_sidecars();
        let running: Vec<InstanceId> = self
            .records
            .values()
            .filter_map(|r| r.latest())
            .filter(|i| i.is_running() && i.kill.is_none())
            .map(|i| i.id)
            .collect();
        for id in self
            .records
            .values()
            .filter_map(|r| r.latest())
            .map(|i| i.id)
            .collect::<Vec<_>>()
        {
            self.stop_probe(id, ProbeType::Liveness);
            self.stop_probe(id, ProbeType::Startup);
        }
        let running_regular: Vec<ContainerRef> = running
            .iter()
            .map(|i| i.container)
            .filter(|r| matches!(r, ContainerRef::Regular(_)))
            .collect();
        for id in running.clone() {
            let ordering = if ordered {
                self.termination_prerequisites(id, &running, &running_regular)
            } else {
                Vec::new()
            };
            self.kill_container(
                now,
                id,
                KillReason::PodTermination,
                None,
                grace_override,
                ordering,
            );
        }
    }

    /// `newTerminationOrdering`: what a sidecar waits for: every regular container running at
    /// kill time and the next running sidecar later in `initContainers`. Others wait for nothing.
    fn termination_prerequisites(
        &self,
        id: InstanceId,
        running: &[InstanceId],
        running_regular: &[ContainerRef],
    ) -> Vec<ContainerRef> {
        if self.plan.container(id.container).kind != ContainerKind::Sidecar {
            return Vec::new();
        }
        let mut prerequisites = running_regular.to_vec();
        if let ContainerRef::Init(idx) = id.container {
            let next = running
                .iter()
                .map(|i| i.container)
                .filter(|r| {
                    matches!(r, ContainerRef::Init(j) if *j > idx)
                        && self.plan.container(*r).kind == ContainerKind::Sidecar
                })
                .min();
            prerequisites.extend(next);
        }
        prerequisites
    }

    /// `killContainer`, up to the preStop hook: the grace (`grace_override`, else
    /// `setTerminationGracePeriod`: the deletion's grace, else a probe-level grace for probe
    /// kills, else the spec's), the `Killing` event (`message`, default `Stopping container
    /// <name>`), then preStop if there is one and the grace is positive. `ordering` is what the
    /// stop signal must wait for (sidecars only).
    pub(crate) fn kill_container(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        reason: KillReason,
        message: Option<String>,
        grace_override: Option<i64>,
        ordering: Vec<ContainerRef>,
    ) {
        let c = self.plan.container(id.container);
        let probe_grace = match reason {
            KillReason::LivenessProbe => c.liveness_probe.as_ref(),
            KillReason::StartupProbe => c.startup_probe.as_ref(),
            KillReason::PodTermination | KillReason::FailedPostStartHook => None,
        }
        .and_then(|p| p.termination_grace_period_seconds);
        let grace = grace_override.unwrap_or_else(|| {
            grace::container_grace(
                self.stage.deletion().map(|d| d.grace),
                self.plan.termination_grace_period_seconds,
                reason,
                probe_grace,
            )
        });
        let message = message.unwrap_or_else(|| format!("Stopping container {}", c.name));
        let pre_stop: Option<HandlerPlan> = c.pre_stop.clone();
        self.container_event(now, id.container, EventType::Normal, "Killing", message);
        let Some(i) = self.instance_mut(id) else {
            return;
        };
        match pre_stop {
            Some(handler) if grace > 0 => {
                i.kill = Some(Kill {
                    grace,
                    stage: KillStage::PreStop {
                        started: now,
                        deadline: now + secs(grace),
                    },
                    prerequisites: ordering,
                });
                self.pending.push(Action::RunHook {
                    instance: id,
                    hook: HookType::PreStop,
                    handler,
                });
            }
            _ => {
                // No preStop (or no grace for it): a zero-length preStop stage, left by
                // `progress_kills` in the same `decide`, once the prerequisites are known.
                i.kill = Some(Kill {
                    grace,
                    stage: KillStage::PreStop {
                        started: now,
                        deadline: now,
                    },
                    prerequisites: ordering,
                });
            }
        }
    }

    /// `executePreStopHook` returned (`HookFinished` for preStop): `grace -= ` the whole seconds
    /// it took. A preStop that finishes after its deadline already passed changes nothing.
    pub(crate) fn pre_stop_returned(&mut self, now: Timestamp, id: InstanceId) {
        let stage = self
            .instance(id)
            .and_then(|i| i.kill.as_ref())
            .map(|k| k.stage.clone());
        if let Some(KillStage::PreStop { started, .. }) = stage {
            self.after_pre_stop(now, id, now.whole_seconds_since(started));
        }
    }

    /// preStop returned (or its share of the grace ran out) after `elapsed` whole seconds: a
    /// sidecar with prerequisites waits for its turn while grace is left; otherwise stop now.
    fn after_pre_stop(&mut self, now: Timestamp, id: InstanceId, elapsed: i64) {
        let Some(k) = self.instance_mut(id).and_then(|i| i.kill.as_mut()) else {
            return;
        };
        k.grace = grace::remaining_grace(k.grace, elapsed);
        if !k.prerequisites.is_empty() && k.grace > 0 {
            k.stage = KillStage::Ordering {
                since: now,
                deadline: now + secs(k.grace),
            };
            self.progress_ordering(now, id);
        } else {
            self.send_stop_signal(now, id);
        }
    }

    /// `waitForTurn`: once every prerequisite has exited, or the remaining grace ran out,
    /// `grace -= ` the whole seconds waited and stop.
    fn progress_ordering(&mut self, now: Timestamp, id: InstanceId) {
        let Some(k) = self.instance(id).and_then(|i| i.kill.clone()) else {
            return;
        };
        let KillStage::Ordering { since, deadline } = k.stage else {
            return;
        };
        let prerequisites_done = k
            .prerequisites
            .iter()
            .all(|r| self.records[r].latest().is_none_or(|i| !i.is_alive()));
        if prerequisites_done || deadline <= now {
            if let Some(k) = self.instance_mut(id).and_then(|i| i.kill.as_mut()) {
                k.grace = grace::remaining_grace(k.grace, now.whole_seconds_since(since));
            }
            self.send_stop_signal(now, id);
        }
    }

    /// `StopContainer(timeout)` with the remaining grace floored at 2 s: the stop signal now,
    /// `SIGKILL` at `now + timeout` (the action carries that deadline).
    fn send_stop_signal(&mut self, now: Timestamp, id: InstanceId) {
        let signal = self.plan.container(id.container).stop_signal;
        let Some(k) = self.instance_mut(id).and_then(|i| i.kill.as_mut()) else {
            return;
        };
        let timeout = grace::stop_timeout(k.grace);
        let sigkill_at = now + secs(timeout);
        k.stage = KillStage::Stopping { sigkill_at };
        self.pending.push(Action::Signal {
            instance: id,
            signal,
            kill_deadline: (signal != Signal::SIGKILL).then_some(sigkill_at),
        });
    }

    /// Moves every kill whose deadline passed: a preStop that outlived the grace (costs the
    /// whole grace; a skipped one costs nothing), an ordering wait that is over, and the
    /// runtime's `SIGKILL` once the stop timeout ran out.
    pub(crate) fn progress_kills(&mut self, now: Timestamp) {
        let ids: Vec<InstanceId> = self
            .records
            .values()
            .flat_map(|r| r.instances.iter())
            .filter(|i| i.is_alive() && i.kill.is_some())
            .map(|i| i.id)
            .collect();
        for id in ids {
            let Some(stage) = self
                .instance(id)
                .and_then(|i| i.kill.as_ref())
                .map(|k| k.stage.clone())
            else {
                continue;
            };
            match stage {
                KillStage::PreStop { started, deadline } if deadline <= now => {
                    let grace = self
                        .instance(id)
                        .and_then(|i| i.kill.as_ref())
                        .map_or(0, |k| k.grace);
                    // Skipped preStop (deadline == started) costs nothing; a timed-out one costs the whole grace.
                    let elapsed = if deadline == started { 0 } else { grace };
                    self.after_pre_stop(now, id, elapsed);
                }
                KillStage::Ordering { .. } => self.progress_ordering(now, id),
                KillStage::Stopping { sigkill_at } if sigkill_at <= now => {
                    if let Some(k) = self.instance_mut(id).and_then(|i| i.kill.as_mut()) {
                        k.stage = KillStage::Killed;
                    }
                    self.pending.push(Action::Signal {
                        instance: id,
                        signal: Signal::SIGKILL,
                        kill_deadline: None,
                    });
                }
                _ => {}
            }
        }
    }

    /// Every deadline a kill in progress waits for (preStop budget, ordering wait, `SIGKILL`).
    pub(crate) fn kill_deadlines(&self) -> Vec<Timestamp> {
        self.records
            .values()
            .flat_map(|r| r.instances.iter())
            .filter(|i| i.is_alive())
            .filter_map(|i| i.kill.as_ref())
            .filter_map(|k| match k.stage {
                KillStage::PreStop { deadline, .. } | KillStage::Ordering { deadline, .. } => {
                    Some(deadline)
                }
                KillStage::Stopping { sigkill_at } => Some(sigkill_at),
                KillStage::Killed => None,
            })
            .collect()
    }
}

/// Whole seconds as a duration (negative = 0).
pub(crate) fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s.max(0)).unwrap_or(0))
}
