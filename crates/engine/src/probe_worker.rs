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

/// When a new instance's probe worker first probes. The kubelet keeps one worker per container
/// and probe type across restarts (`prober_manager.go AddPod` creates it once; the ticker of
/// `worker.run` keeps running): a restarted container's liveness or startup probe waits for the
/// next tick of the ticker started at `epoch`, while readiness is triggered at once
/// (`worker.go`: a started container without a readiness result is probed immediately). The
/// first instance of a container probes at once (`epoch == now`).
pub fn first_tick(
    probe_type: ProbeType,
    epoch: tokio::time::Instant,
    now: tokio::time::Instant,
    period: std::time::Duration,
) -> tokio::time::Instant {
    if probe_type == ProbeType::Readiness || epoch == now {
        return now;
    }
    let elapsed = now.saturating_duration_since(epoch);
    let periods = elapsed.as_nanos() / period.as_nanos().max(1) + 1;
    epoch + period * u32::try_from(periods).unwrap_or(u32::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn the_first_instance_probes_at_once() {
        let t = Instant::now();
        for p in [
            ProbeType::Startup,
            ProbeType::Liveness,
            ProbeType::Readiness,
        ] {
            assert_eq!(first_tick(p, t, t, Duration::from_secs(10)), t);
        }
    }

    #[test]
    fn a_restarted_instance_waits_for_the_next_tick_of_liveness_and_startup() {
        let epoch = Instant::now();
        let period = Duration::from_secs(10);
        let now = epoch + Duration::from_millis(23_500);
        let next = epoch + Duration::from_secs(30);
        assert_eq!(first_tick(ProbeType::Liveness, epoch, now, period), next);
        assert_eq!(first_tick(ProbeType::Startup, epoch, now, period), next);
        // Exactly on a tick: the next one (that tick has passed).
        let on_tick = epoch + Duration::from_secs(20);
        assert_eq!(
            first_tick(ProbeType::Liveness, epoch, on_tick, period),
            epoch + Duration::from_secs(30)
        );
    }

    #[test]
    fn a_restarted_instance_is_probed_for_readiness_at_once() {
        let epoch = Instant::now();
        let now = epoch + Duration::from_millis(23_500);
        assert_eq!(
            first_tick(ProbeType::Readiness, epoch, now, Duration::from_secs(10)),
            now
        );
    }
}
