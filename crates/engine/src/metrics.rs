//! Resource usage for the metrics API (`kubectl top`): CPU and memory of each container's
//! process tree and of the node, read from `/proc` (what metrics-server reports from the
//! kubelet's summary API: CPU as a rate over a window, memory as the working set). podvisor
//! puts containers in no cgroup, so a container's usage is the sum over its main process and
//! its descendants; memory is their resident set.

use std::collections::HashMap;
use std::time::Duration;

/// Cumulative usage of a set of processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time (user + system), in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory, in bytes.
    pub memory_bytes: u64,
}

/// One container's usage over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    /// Container name.
    pub name: String,
    /// CPU in nanocores (nanoseconds of CPU per second).
    pub nanocores: u64,
    /// Working set in bytes.
    pub memory_bytes: u64,
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(4096)
}

/// (ppid, utime + stime in ticks) from `/proc/<pid>/stat` (the command may hold spaces and
/// parentheses: fields are counted after its closing parenthesis).
pub fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ppid(1) ... utime(11) stime(12).
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// Every process: pid → (ppid, CPU ticks).
fn processes() -> HashMap<u32, (u32, u64)> {
    let mut out = HashMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(s) = std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            out.insert(pid, s);
        }
    }
    out
}

/// `root` and its descendants.
pub fn tree(root: u32, all: &HashMap<u32, (u32, u64)>) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            all.iter()
                .filter(|(pid, (ppid, _))| *ppid == parent && **pid != parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    out
}

/// The cumulative usage of each root's process tree.
pub fn usage(roots: &[u32]) -> Vec<Usage> {
    let all = processes();
    let tick_ns = 1_000_000_000 / clock_ticks();
    let page = page_size();
    roots
        .iter()
        .map(|root| {
            let mut u = Usage::default();
            for pid in tree(*root, &all) {
                if let Some((_, ticks)) = all.get(&pid) {
                    u.cpu_ns += ticks * tick_ns;
                }
                let rss = std::fs::read_to_string(format!("/proc/{pid}/statm"))
                    .ok()
                    .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .unwrap_or(0);
                u.memory_bytes += rss * page;
            }
            u
        })
        .collect()
}

/// The rate between two samples taken `window` apart.
pub fn rate(before: Usage, after: Usage, window: Duration) -> u64 {
    let ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX).max(1);
    let used = after.cpu_ns.saturating_sub(before.cpu_ns);
    u64::try_from(u128::from(used) * 1_000_000_000 / u128::from(ns)).unwrap_or(u64::MAX)
}

/// The node's busy CPU time and used memory (`/proc/stat`, `MemTotal - MemAvailable`).
pub fn node_usage() -> Usage {
    let tick_ns = 1_000_000_000 / clock_ticks();
    let cpu = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let l = s.lines().next()?.to_string();
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
            let busy: u64 = f.iter().take(8).sum::<u64>()
                - f.get(3).copied().unwrap_or(0)
                - f.get(4).copied().unwrap_or(0);
            Some(busy)
        })
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .map_or(0, |s| {
            let field = |name: &str| {
                s.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            field("MemTotal:").saturating_sub(field("MemAvailable:")) * 1024
        });
    Usage {
        cpu_ns: cpu * tick_ns,
        memory_bytes: mem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_past_a_command_with_spaces_and_parentheses() {
        let s = "42 (my (odd) cmd) S 7 42 42 0 -1 4194560 100 0 0 0 25 5 0 0 20 0 1 0 100 1000 50";
        assert_eq!(parse_stat(s), Some((7, 30)));
    }

    #[test]
    fn a_tree_is_a_root_and_its_descendants() {
        let all: HashMap<u32, (u32, u64)> = [
            (1, (0, 0)),
            (10, (1, 0)),
            (11, (10, 0)),
            (12, (10, 0)),
            (20, (1, 0)),
        ]
        .into();
        let mut t = tree(10, &all);
        t.sort();
        assert_eq!(t, vec![10, 11, 12]);
    }

    #[test]
    fn the_rate_is_cpu_time_per_second() {
        let a = Usage {
            cpu_ns: 0,
            memory_bytes: 0,
        };
        let b = Usage {
            cpu_ns: 50_000_000,
            memory_bytes: 0,
        };
        assert_eq!(rate(a, b, Duration::from_millis(100)), 500_000_000);
    }

    #[test]
    fn this_process_uses_memory() {
        let u = usage(&[std::process::id()]);
        assert!(u[0].memory_bytes > 0);
    }
}
