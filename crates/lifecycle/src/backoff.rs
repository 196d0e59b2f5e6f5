//! CrashLoopBackOff as a value: "eligible at t" instead of sleeping. Mirrors the kubelet's
//! `doBackOff` (kuberuntime_manager.go) over client-go's `flowcontrol.Backoff` with the kubelet's
//! `HasExpiredFunc`; see kubelet-semantics.md §6.2.

use std::time::Duration;

use crate::time::Timestamp;

/// `initialCrashLoopBackOff`.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// `MaxContainerBackOff`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A container that ran longer than this after its last restart has its backoff reset.
pub const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// One container's backoff entry (the kubelet keys it by pod, container name and image).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashLoopBackOff {
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    backoff: Duration,
    last_update: Timestamp,
}

/// The verdict for a restart of a container whose latest instance exited at `finished_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffVerdict {
    /// Start now.
    Start,
    /// Refused: the container is in CrashLoopBackOff until `until`.
    Wait {
        /// When a start becomes eligible (`finished_at + backoff`).
        until: Timestamp,
        /// The current backoff, shown as `back-off 20s restarting failed container=...`.
        backoff: Duration,
    },
}

impl CrashLoopBackOff {
    /// Whether a restart may happen at `now` for an instance that finished at `finished_at`.
    /// Does not change the entry: call [`CrashLoopBackOff::record_start`] when starting.
    pub fn verdict(&self, finished_at: Timestamp, now: Timestamp) -> BackoffVerdict {
        match self.live_entry(finished_at) {
            Some(e) if now.saturating_since(finished_at) < e.backoff => BackoffVerdict::Wait {
                until: finished_at + e.backoff,
                backoff: e.backoff,
            },
            _ => BackoffVerdict::Start,
        }
    }

    /// Records a restart at `now` (client-go's `Next`): the first is followed by the initial
    /// backoff, each later one doubles it up to the maximum; an expired entry starts over.
    pub fn record_start(&mut self, finished_at: Timestamp, now: Timestamp) {
        let backoff = match self.live_entry(finished_at) {
            None => INITIAL_BACKOFF,
            Some(e) => (e.backoff * 2).min(MAX_BACKOFF),
        };
        self.entry = Some(Entry {
            backoff,
            last_update: now,
        });
    }

    /// The entry unless it expired: the container ran more than ten minutes after its last
    /// restart before exiting at `finished_at`.
    fn live_entry(&self, finished_at: Timestamp) -> Option<Entry> {
        self.entry
            .filter(|e| finished_at.saturating_since(e.last_update) <= BACKOFF_RESET)
    }
}

/// Go's `time.Duration.String()` for whole seconds: `10s`, `1m20s`, `5m0s`.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    if secs == 0 && millis == 0 {
        return "0s".to_string();
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac = if millis > 0 {
        format!(".{millis:03}").trim_end_matches('0').to_string()
    } else {
        String::new()
    };
    if h > 0 {
        format!("{h}h{m}m{s}{frac}s")
    } else if m > 0 {
        format!("{m}m{s}{frac}s")
    } else if secs == 0 {
        format!("{millis}ms")
    } else {
        format!("{s}{frac}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    /// Simulates a container that exits `run` seconds after every start, restarting as soon as
    /// the backoff allows; returns the delays between exit and restart.
    fn delays(n: usize, run: u64) -> Vec<u64> {
        let mut b = CrashLoopBackOff::default();
        let mut now = t(0);
        let mut out = Vec::new();
        for _ in 0..n {
            now = now + Duration::from_secs(run);
            let finished = now;
            let start = match b.verdict(finished, now) {
                BackoffVerdict::Start => now,
                BackoffVerdict::Wait { until, .. } => until,
            };
            assert_eq!(b.verdict(finished, start), BackoffVerdict::Start);
            out.push((start - finished).as_secs());
            b.record_start(finished, start);
            now = start;
        }
        out
    }

    #[test]
    fn first_restart_is_immediate_then_10_20_40_up_to_300() {
        assert_eq!(delays(9, 1), vec![0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn refusal_reports_the_current_backoff_and_eligibility() {
        let mut b = CrashLoopBackOff::default();
        b.record_start(t(1), t(1));
        assert_eq!(
            b.verdict(t(5), t(6)),
            BackoffVerdict::Wait {
                until: t(15),
                backoff: INITIAL_BACKOFF
            }
        );
        assert_eq!(b.verdict(t(5), t(15)), BackoffVerdict::Start);
    }

    #[test]
    fn running_more_than_ten_minutes_after_the_last_restart_resets_the_backoff() {
        let mut b = CrashLoopBackOff::default();
        b.record_start(t(0), t(0));
        b.record_start(t(1), t(11)); // backoff now 20 s
                                     // Exits 601 s after the last restart: restart at once, backoff back to 10 s.
        assert_eq!(b.verdict(t(612), t(612)), BackoffVerdict::Start);
        b.record_start(t(612), t(612));
        assert_eq!(
            b.verdict(t(613), t(613)),
            BackoffVerdict::Wait {
                until: t(623),
                backoff: INITIAL_BACKOFF
            }
        );
    }

    #[test]
    fn exactly_ten_minutes_does_not_reset() {
        let mut b = CrashLoopBackOff::default();
        b.record_start(t(0), t(0));
        assert!(matches!(
            b.verdict(t(600), t(600)),
            BackoffVerdict::Wait { .. }
        ));
    }

    #[test]
    fn go_duration_formats_like_go() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(160)), "2m40s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
    }
}
