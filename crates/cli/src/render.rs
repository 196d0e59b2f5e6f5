//! Human rendering of the timeline for a terminal (coloured) or a pipe (plain), and the `-o`
//! output of `run`.

use std::fmt::Write as _;
use std::time::Duration;

use podvisor_engine::timeline::{Happening, TimelineEntry};
use podvisor_lifecycle::action::EventType;
use podvisor_lifecycle::observation::HookType;
use podvisor_lifecycle::signal::Signal;

/// Colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

impl Style {
    fn paint(&self, color: &str, s: &str) -> String {
        if self.color {
            format!("{color}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}

fn hook_name(h: HookType) -> &'static str {
    match h {
        HookType::PostStart => "postStart",
        HookType::PreStop => "preStop",
    }
}

/// `3 ms`, `1.25 s`, `2m03s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Events whose content already has its own timeline line.
const COVERED_EVENTS: &[&str] = &["Scheduled", "Pulled", "Created", "Started"];

/// One timeline line, or `None` for entries not worth a line.
pub fn line(e: &TimelineEntry, style: Style, multi_pod: bool) -> Option<String> {
    let t = format!("{:>9.3}s", e.at.since_start().as_secs_f64());
    let mut who = String::new();
    if multi_pod {
        who.push_str(&e.pod.name);
        if e.container.is_some() {
            who.push('/');
        }
    }
    if let Some(c) = &e.container {
        who.push_str(c);
    } else if !multi_pod {
        who.push_str("(pod)");
    }
    let who = style.paint(CYAN, &format!("{who:<18}"));
    let what = match &e.what {
        Happening::SandboxReady { pod_ip } => format!("sandbox ready, pod IP {pod_ip}"),
        Happening::Started { restart_count, pid } => {
            let again = if *restart_count > 0 {
                format!(" (restart {restart_count})")
            } else {
                String::new()
            };
            style.paint(GREEN, &format!("started{again}, pid {pid}"))
        }
        Happening::StartFailed { reason, message } => {
            style.paint(RED, &format!("{reason}: {message}"))
        }
        Happening::Exited {
            exit_code,
            signal,
            ran_for,
            message,
        } => {
            let how = match signal {
                Some(9) => " (SIGKILL)".to_string(),
                Some(s) => format!(" (signal {s})"),
                None => String::new(),
            };
            let ran = ran_for
                .map(|d| format!(" after {}", human_duration(d)))
                .unwrap_or_default();
            let color = if *exit_code == 0 { GREEN } else { RED };
            // The reason the status shows: Completed for 0, Error otherwise (no OOM killer here).
            let reason = if *exit_code == 0 {
                "Completed"
            } else {
                "Error"
            };
            let message = message
                .as_deref()
                .map(|m| format!(", message {:?}", m.trim_end()))
                .unwrap_or_default();
            style.paint(
                color,
                &format!("exited with code {exit_code}{how}{ran}: {reason}{message}"),
            )
        }
        Happening::HookStarted { hook, handler } => {
            style.paint(MAGENTA, &format!("{} running: {handler}", hook_name(*hook)))
        }
        Happening::HookFinished { hook, error, took } => match error {
            None => style.paint(
                MAGENTA,
                &format!("{} ok in {}", hook_name(*hook), human_duration(*took)),
            ),
            Some(err) => style.paint(
                RED,
                &format!(
                    "{} failed after {}: {err}",
                    hook_name(*hook),
                    human_duration(*took)
                ),
            ),
        },
        Happening::Signal { signal, kill_after } => {
            let then = match kill_after {
                Some(s) => format!(" (SIGKILL in {s} s if still running)"),
                None => String::new(),
            };
            let color = if *signal == Signal::SIGKILL {
                RED
            } else {
                YELLOW
            };
            style.paint(color, &format!("{signal} sent to main process{then}"))
        }
        Happening::ProbeStarted { probe_type } => style.paint(
            DIM,
            &format!("{} probe started", probe_type.as_str().to_lowercase()),
        ),
        Happening::Ready { ready } => {
            if *ready {
                style.paint(GREEN, "Ready")
            } else {
                style.paint(YELLOW, "not ready")
            }
        }
        Happening::Phase { phase } => style.paint(BLUE, &format!("phase {}", phase.as_str())),
        Happening::Deleting {
            grace_period_seconds: 0,
        } => style.paint(
            YELLOW,
            "force deleting: the kubelet still gives preStop 1 s and the stop signal 2 s",
        ),
        Happening::Deleting {
            grace_period_seconds,
        } => style.paint(
            YELLOW,
            &format!("deleting, grace period {grace_period_seconds} s"),
        ),
        Happening::Event(ev) => {
            if COVERED_EVENTS.contains(&ev.reason.as_str()) {
                return None;
            }
            let color = if ev.event_type == EventType::Warning {
                YELLOW
            } else {
                BLUE
            };
            format!("{} {}", style.paint(color, &ev.reason), ev.message)
        }
        Happening::Removed => style.paint(DIM, "sandbox removed, no process left"),
        Happening::Problem { message } => style.paint(RED, &format!("engine: {message}")),
    };
    let mut out = String::new();
    let _ = write!(out, "{} {who} {what}", style.paint(DIM, &t));
    Some(out)
}

/// Parses `90`, `500ms`, `10s`, `2m`, `1m30s`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected a number before {unit:?}"))?;
        num.clear();
        let secs = match unit.as_str() {
            "ms" => v / 1000.0,
            "s" => v,
            "m" => v * 60.0,
            "h" => v * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m, h)"
                ))
            }
        };
        total += Duration::from_secs_f64(secs);
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration {s:?}: missing unit after {num:?}"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl_flags() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10s5").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_millis(3)), "3 ms");
        assert_eq!(human_duration(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(human_duration(Duration::from_secs(123)), "2m03s");
    }

    fn entry(container: Option<&str>, what: Happening) -> TimelineEntry {
        TimelineEntry {
            at: podvisor_lifecycle::time::Timestamp::from_duration(Duration::from_secs(2)),
            pod: podvisor_lifecycle::plan::PodKey {
                namespace: "default".into(),
                name: "p".into(),
            },
            container: container.map(str::to_string),
            what,
        }
    }

    #[test]
    fn an_exit_shows_its_reason_and_termination_message() {
        let plain = Style { color: false };
        let l = line(
            &entry(
                Some("main"),
                Happening::Exited {
                    exit_code: 0,
                    signal: None,
                    ran_for: Some(Duration::from_millis(2010)),
                    message: Some("Sleep expired\n".into()),
                },
            ),
            plain,
            false,
        )
        .unwrap();
        assert!(
            l.ends_with("exited with code 0 after 2.01 s: Completed, message \"Sleep expired\""),
            "{l}"
        );
        let l = line(
            &entry(
                Some("main"),
                Happening::Exited {
                    exit_code: 137,
                    signal: Some(9),
                    ran_for: None,
                    message: None,
                },
            ),
            plain,
            false,
        )
        .unwrap();
        assert!(l.ends_with("exited with code 137 (SIGKILL): Error"), "{l}");
    }

    #[test]
    fn a_force_delete_says_what_the_kubelet_still_gives() {
        let l = line(
            &entry(
                None,
                Happening::Deleting {
                    grace_period_seconds: 0,
                },
            ),
            Style { color: false },
            false,
        )
        .unwrap();
        assert!(
            l.contains(
                "force deleting: the kubelet still gives preStop 1 s and the stop signal 2 s"
            ),
            "{l}"
        );
    }
}
