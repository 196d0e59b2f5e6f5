//! The periodic probe worker of one probe of one container instance. Mirrors the prober's
//! `worker.run` / `doProbe` timing (pkg/kubelet/prober/worker.go): probe at once, then every
//! `periodSeconds`; attempts are skipped while `int(seconds since start) < initialDelaySeconds`.
//! No start-up jitter (the kubelet only jitters right after it starts itself).

use std::sync::Arc;

use podvisor_lifecycle::observation::ProbeOutcome;
use podvisor_lifecycle::plan::{ProbePlan, ProbeType};
use tokio::sync::mpsc;

use crate::handlers::{run_probe, HandlerTarget};

/// One attempt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// Which probe.
    pub probe_type: ProbeType,
    /// Outcome.
    pub outcome: ProbeOutcome,
}

/// Stops the worker when dropped.
#[derive(Debug)]
pub struct ProbeWorkerHandle(tokio::task::JoinHandle<()>);

impl Drop for ProbeWorkerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the worker; its first attempt is at `first_tick` (now for a new worker; the next
/// tick of the kubelet's still-running ticker for a restarted container's liveness or startup
/// probe, see `PodWorker::start_probe`).
pub fn spawn_probe_worker<T: HandlerTarget + 'static>(
    target: Arc<T>,
    probe_type: ProbeType,
    probe: ProbePlan,
    started_at: tokio::time::Instant,
    first_tick: tokio::time::Instant,
    tx: mpsc::UnboundedSender<ProbeReport>,
) -> ProbeWorkerHandle {
    ProbeWorkerHandle(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(first_tick, probe.period());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let since = started_at.elapsed().as_secs();
            if i64::try_from(since).unwrap_or(i64::MAX) < probe.initial_delay_seconds {
                continue;
            }
            let outcome = run_probe(target.as_ref(), probe_type, &probe).await;
            if tx
                .send(ProbeReport {
                    probe_type,
                    outcome,
                })
                .is_err()
            {
                break;
            }
        }
    }))
}
