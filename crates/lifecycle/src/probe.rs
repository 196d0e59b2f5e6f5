//! Probe result thresholds: consecutive equal outcomes counted until `failureThreshold` or
//! `successThreshold` flips the cached result. Mirrors the prober `worker.doProbe` counting
//! (pkg/kubelet/prober/worker.go); see kubelet-semantics.md §5.2.

use crate::observation::ProbeOutcome;
use crate::plan::{ProbePlan, ProbeType};

/// The cached result of a probe (`results.Result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// No result yet (the startup probe's initial value).
    Unknown,
    /// Success.
    Success,
    /// Failure.
    Failure,
}

/// One probe's counters for one container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCounter {
    result: ProbeResult,
    last: Option<bool>,
    run: i64,
}

impl ProbeCounter {
    /// The initial value before any probe ran: readiness Failure, liveness Success, startup Unknown.
    pub fn new(probe_type: ProbeType) -> Self {
        let result = match probe_type {
            ProbeType::Readiness => ProbeResult::Failure,
            ProbeType::Liveness => ProbeResult::Success,
            ProbeType::Startup => ProbeResult::Unknown,
        };
        ProbeCounter {
            result,
            last: None,
            run: 0,
        }
    }

    /// The cached result.
    pub fn result(&self) -> ProbeResult {
        self.result
    }

    /// Counts one attempt; returns the new cached result when it changed. Errors discard the
    /// attempt; warnings count as success.
    pub fn record(&mut self, probe: &ProbePlan, outcome: &ProbeOutcome) -> Option<ProbeResult> {
        let ok = match outcome {
            ProbeOutcome::Success | ProbeOutcome::Warning(_) => true,
            ProbeOutcome::Failure(_) => false,
            ProbeOutcome::Error(_) => return None,
        };
        if self.last == Some(ok) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(ok);
            self.run = 1;
        }
        let (threshold, verdict) = if ok {
            (probe.success_threshold.max(1), ProbeResult::Success)
        } else {
            (probe.failure_threshold.max(1), ProbeResult::Failure)
        };
        if self.run >= threshold && self.result != verdict {
            self.result = verdict;
            return Some(verdict);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::HandlerPlan;

    fn probe(success: i64, failure: i64) -> ProbePlan {
        ProbePlan {
            handler: HandlerPlan::TcpSocket {
                host: None,
                port: 80,
            },
            initial_delay_seconds: 0,
            timeout_seconds: 1,
            period_seconds: 10,
            success_threshold: success,
            failure_threshold: failure,
            termination_grace_period_seconds: None,
        }
    }

    fn fail() -> ProbeOutcome {
        ProbeOutcome::Failure("x".into())
    }

    #[test]
    fn initial_results_follow_the_kubelet() {
        assert_eq!(
            ProbeCounter::new(ProbeType::Readiness).result(),
            ProbeResult::Failure
        );
        assert_eq!(
            ProbeCounter::new(ProbeType::Liveness).result(),
            ProbeResult::Success
        );
        assert_eq!(
            ProbeCounter::new(ProbeType::Startup).result(),
            ProbeResult::Unknown
        );
    }

    #[test]
    fn liveness_fails_only_at_the_third_consecutive_failure() {
        let p = probe(1, 3);
        let mut c = ProbeCounter::new(ProbeType::Liveness);
        assert_eq!(c.record(&p, &fail()), None);
        assert_eq!(c.record(&p, &fail()), None);
        assert_eq!(c.record(&p, &fail()), Some(ProbeResult::Failure));
    }

    #[test]
    fn a_success_in_between_resets_the_failure_run() {
        let p = probe(1, 3);
        let mut c = ProbeCounter::new(ProbeType::Liveness);
        c.record(&p, &fail());
        c.record(&p, &fail());
        assert_eq!(c.record(&p, &ProbeOutcome::Success), None);
        c.record(&p, &fail());
        c.record(&p, &fail());
        assert_eq!(c.record(&p, &fail()), Some(ProbeResult::Failure));
    }

    #[test]
    fn errors_are_not_counted() {
        let p = probe(1, 2);
        let mut c = ProbeCounter::new(ProbeType::Liveness);
        c.record(&p, &fail());
        assert_eq!(c.record(&p, &ProbeOutcome::Error("e".into())), None);
        assert_eq!(c.record(&p, &fail()), Some(ProbeResult::Failure));
    }

    #[test]
    fn readiness_needs_success_threshold_consecutive_successes() {
        let p = probe(2, 3);
        let mut c = ProbeCounter::new(ProbeType::Readiness);
        assert_eq!(c.record(&p, &ProbeOutcome::Success), None);
        assert_eq!(
            c.record(&p, &ProbeOutcome::Warning("w".into())),
            Some(ProbeResult::Success)
        );
        assert_eq!(c.record(&p, &ProbeOutcome::Success), None);
    }

    #[test]
    fn readiness_first_success_flips_to_ready_with_threshold_one() {
        let p = probe(1, 3);
        let mut c = ProbeCounter::new(ProbeType::Readiness);
        assert_eq!(
            c.record(&p, &ProbeOutcome::Success),
            Some(ProbeResult::Success)
        );
    }
}
