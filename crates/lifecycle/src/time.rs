//! Monotonic time as a value: `Timestamp` is the time since the engine started, so the pure core
//! can do grace and backoff arithmetic without ever reading a clock (tests say "at 12.5 s").

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the engine's monotonic timeline: the duration since the engine started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The engine's start.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// A timestamp `d` after the engine started.
    pub const fn from_duration(d: Duration) -> Self {
        Timestamp(d)
    }

    /// A timestamp `ms` milliseconds after the engine started (handy in tests).
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(Duration::from_millis(ms))
    }

    /// A timestamp `s` seconds after the engine started (handy in tests).
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(Duration::from_secs(s))
    }

    /// The duration since the engine started.
    pub const fn since_start(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// Whole seconds elapsed since `earlier`, truncated as Go's `int(time.Since(t).Seconds())`.
    pub fn whole_seconds_since(self, earlier: Timestamp) -> i64 {
        i64::try_from(self.saturating_since(earlier).as_secs()).unwrap_or(i64::MAX)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0 + rhs)
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Duration;
    fn sub(self, rhs: Timestamp) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}

/// Pairs the monotonic timeline with the wall clock, for rendering status and events only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Wall-clock time at `Timestamp::ZERO`.
    pub epoch: jiff::Timestamp,
}

impl WallClock {
    /// The wall-clock time of `t`.
    pub fn at(&self, t: Timestamp) -> jiff::Timestamp {
        let span =
            jiff::SignedDuration::try_from(t.since_start()).unwrap_or(jiff::SignedDuration::MAX);
        self.epoch.checked_add(span).unwrap_or(self.epoch)
    }

    /// The k8s `Time` of `t`, truncated to whole seconds as the API serialises it.
    pub fn k8s_time(&self, t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
        let w = self.at(t);
        let secs = jiff::Timestamp::from_second(w.as_second()).unwrap_or(w);
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(secs)
    }
}
