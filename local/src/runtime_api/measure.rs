//! What a function process has used, read from Linux's /proc while it
//! lives: its peak resident memory (`VmHWM`) and its CPU time, per thread.

use std::collections::HashMap;
use std::time::Duration;

/// `VmHWM` of a live process, from /proc.
pub(super) fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time a process has used so far, from /proc.
///
/// Per thread in nanoseconds (`/proc/<pid>/task/<tid>/schedstat`) where the
/// kernel has schedstat; `/proc/<pid>/stat`'s `utime + stime` counts whole
/// clock ticks (10 ms), too coarse for calls that take tens of microseconds, so
/// it is only the fallback.
#[derive(Debug, Clone, Default)]
pub struct CpuTime {
    per_thread_ns: HashMap<u32, u64>,
    ticks: u64,
}

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 on every architecture Lambda runs.
const TICK: Duration = Duration::from_millis(10);

impl CpuTime {
    pub(super) fn of(pid: u32) -> Option<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields count from the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        let ticks = field(11)? + field(12)?;
        let mut per_thread_ns = HashMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let ns = std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse().ok());
                if let Some(ns) = ns {
                    per_thread_ns.insert(tid, ns);
                }
            }
        }
        Some(CpuTime {
            per_thread_ns,
            ticks,
        })
    }

    /// The CPU time used between `earlier` and this reading. Threads are
    /// counted one by one, so that one that exited in between takes away only
    /// its own time in between, not what it had used before.
    pub fn since(&self, earlier: &CpuTime) -> Duration {
        if self.per_thread_ns.is_empty() {
            return TICK
                * u32::try_from(self.ticks.saturating_sub(earlier.ticks)).unwrap_or(u32::MAX);
        }
        let ns: u64 = self
            .per_thread_ns
            .iter()
            .map(|(tid, now)| {
                now.saturating_sub(earlier.per_thread_ns.get(tid).copied().unwrap_or(0))
            })
            .sum();
        Duration::from_nanos(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_each_thread_since_the_earlier_reading() {
        let earlier = CpuTime {
            per_thread_ns: HashMap::from([(1, 1_000), (2, 5_000), (3, 9_000)]),
            ticks: 0,
        };
        // Thread 2 exited, thread 4 started.
        let now = CpuTime {
            per_thread_ns: HashMap::from([(1, 4_000), (3, 9_500), (4, 700)]),
            ticks: 1,
        };
        assert_eq!(now.since(&earlier), Duration::from_nanos(3_000 + 500 + 700));
        let coarse = CpuTime {
            per_thread_ns: HashMap::new(),
            ticks: 3,
        };
        assert_eq!(coarse.since(&earlier), Duration::from_millis(30));
        let own = CpuTime::of(std::process::id()).unwrap();
        assert!(!own.per_thread_ns.is_empty());
    }
}
