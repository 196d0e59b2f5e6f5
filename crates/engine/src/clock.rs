//! The engine's single source of time: tokio's clock (so tests can pause and advance it) mapped
//! onto the lifecycle core's `Timestamp`, paired once with the wall clock for rendering.

use podvisor_lifecycle::time::{Timestamp, WallClock};

/// Monotonic time since the engine started, plus the wall-clock pairing.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
    wall: WallClock,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
            wall: WallClock {
                epoch: jiff::Timestamp::now(),
            },
        }
    }

    /// The current timestamp.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.start.elapsed())
    }

    /// The tokio instant of a timestamp (for `sleep_until`).
    pub fn instant(&self, t: Timestamp) -> tokio::time::Instant {
        self.start + t.since_start()
    }

    /// The tokio instant the clock started at.
    pub fn started(&self) -> tokio::time::Instant {
        self.start
    }

    /// The wall-clock pairing.
    pub fn wall(&self) -> WallClock {
        self.wall
    }
}
