//! The measuring: cold starts of every binary in turn, then warm calls in
//! batches, each binary taking its turn; the medians and percentiles of a
//! row, and the budgets checked against it.

use super::budgets::{Budgets, Measure, Verdict};
use super::options::Options;
use super::stand::{Stand, accepted};
use super::{INVOCATION_TIMEOUT, Subject, binary_path, report, zip_path};
use kiosk_local::bootstrap::BoxError;
use kiosk_local::runtime_api::{Answered, CpuTime, Instance};
use kiosk_local::template::Template;
use std::collections::HashMap;
use std::time::Duration;

impl Stand {
    /// Cold starts of every subject in turn, then all of them warm, taking
    /// turns too: a burst of load on the machine touches them alike.
    pub(super) async fn measure(
        &self,
        options: &Options,
        template: &Template,
        subjects: &[Subject],
    ) -> Result<HashMap<String, Measured>, BoxError> {
        let mut measured: HashMap<String, Measured> = HashMap::new();
        for round in 0..options.cold_starts {
            eprintln!(
                "bench:   cold starts, round {}/{}",
                round + 1,
                options.cold_starts
            );
            for subject in subjects {
                let run = self.launch(options, template, subject).await?;
                let entry = measured.entry(subject.binary.clone()).or_default();
                entry.init.push(run.init);
                entry.init_cpu.push(run.init_cpu);
                entry.first.push(run.first);
                entry.first_cpu.push(run.cpu);
                entry.peak_kib = entry
                    .peak_kib
                    .max(run.instance.peak_memory_kib().unwrap_or(0));
                run.instance.stop().await;
            }
        }

        eprintln!("bench:   warm calls");
        let mut warm = Vec::new();
        for subject in subjects {
            let mut instance = self.launch(options, template, subject).await?.instance;
            for _ in 0..options.warm_up_calls() {
                self.invoke(&mut instance, subject).await?;
            }
            warm.push((subject, instance, Duration::ZERO));
        }
        let mut done = 0;
        while done < options.warm_calls {
            let batch = WARM_BATCH.min(options.warm_calls - done);
            for (subject, instance, cpu) in &mut warm {
                let before = instance.cpu_time().ok_or(NO_CPU_TIME)?;
                let entry = measured.entry(subject.binary.clone()).or_default();
                for _ in 0..batch {
                    entry
                        .latencies
                        .push(self.invoke(instance, subject).await?.latency);
                }
                *cpu += instance.cpu_time().ok_or(NO_CPU_TIME)?.since(&before);
            }
            done += batch;
        }
        for (subject, instance, cpu) in warm {
            let entry = measured.entry(subject.binary.clone()).or_default();
            entry.cpu_per_call = cpu / u32::try_from(options.warm_calls)?;
            entry.peak_kib = entry.peak_kib.max(instance.peak_memory_kib().unwrap_or(0));
            instance.stop().await;
        }
        Ok(measured)
    }

    /// Starts `subject` and answers its first invocation.
    async fn launch(
        &self,
        options: &Options,
        template: &Template,
        subject: &Subject,
    ) -> Result<Launched, BoxError> {
        let env = self.env_of(template, &subject.binary)?;
        let mut instance =
            Instance::start_clean(&binary_path(options, subject), &env, INVOCATION_TIMEOUT).await?;
        let first = self.invoke(&mut instance, subject).await?;
        let cpu = instance
            .cpu_time()
            .ok_or(NO_CPU_TIME)?
            .since(&CpuTime::default());
        let init = instance
            .init_duration()
            .ok_or_else(|| format!("{} answered without polling", subject.binary))?;
        let init_cpu = instance.init_cpu().ok_or(NO_CPU_TIME)?;
        Ok(Launched {
            instance,
            init,
            init_cpu,
            first: first.since_start,
            cpu,
        })
    }

    /// One invocation of `subject`'s event; an error unless it succeeded.
    async fn invoke(
        &self,
        instance: &mut Instance,
        subject: &Subject,
    ) -> Result<Answered, BoxError> {
        let event = self
            .events
            .get(&subject.binary)
            .ok_or_else(|| format!("no event for {}", subject.binary))?;
        let answered = instance.invoke(event).await?;
        if let Err(e) = accepted(&subject.binary, &answered.outcome) {
            return Err(format!("{e} on {}", subject.event_file).into());
        }
        Ok(answered)
    }
}

/// Warm calls a process makes before the next one takes its turn.
const WARM_BATCH: usize = 25;

const NO_CPU_TIME: &str = "cannot read a process's CPU time from /proc";

/// A process that has answered its first invocation.
struct Launched {
    instance: Instance,
    init: Duration,
    /// The CPU time its init used.
    init_cpu: Duration,
    first: Duration,
    /// The CPU time it used up to its first response.
    cpu: Duration,
}

/// Everything measured of one binary over one transport.
#[derive(Debug, Default)]
pub(super) struct Measured {
    init: Vec<Duration>,
    init_cpu: Vec<Duration>,
    first: Vec<Duration>,
    first_cpu: Vec<Duration>,
    latencies: Vec<Duration>,
    cpu_per_call: Duration,
    peak_kib: u64,
}

/// The median of `values` (the lower middle one of an even count).
fn median(values: &[Duration]) -> Duration {
    percentile(values, 0.5)
}

/// The nearest-rank percentile `p` (0..=1) of `values`.
fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    // Nearest rank: the smallest value with at least p of them at or below it.
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// The row of each subject: the medians of its cold starts, the percentiles
/// of its warm calls, its peak memory and zip.
pub(super) fn rows(
    options: &Options,
    subjects: &[Subject],
    measured: &HashMap<String, Measured>,
) -> Result<Vec<report::Row>, BoxError> {
    subjects
        .iter()
        .map(|subject| {
            let m = measured
                .get(&subject.binary)
                .ok_or_else(|| format!("{} was not measured", subject.binary))?;
            Ok(report::Row {
                binary: subject.binary.clone(),
                function: subject.function.clone(),
                floor: subject.floor.map(str::to_owned),
                init: median(&m.init),
                init_cpu: median(&m.init_cpu),
                first: median(&m.first),
                first_cpu: median(&m.first_cpu),
                p50: percentile(&m.latencies, 0.5),
                p99: percentile(&m.latencies, 0.99),
                cpu: m.cpu_per_call,
                rss_bytes: m.peak_kib * 1024,
                zip_bytes: std::fs::metadata(zip_path(options, subject))?.len(),
            })
        })
        .collect()
}

/// Every budget of every function in `run`, checked.
pub(super) fn check(budgets: &Budgets, run: &report::Run) -> Vec<report::Checked> {
    let mut checked = Vec::new();
    for row in &run.rows {
        let Some(function) = &row.function else {
            continue;
        };
        let floor = run
            .rows
            .iter()
            .find(|r| Some(&r.binary) == row.floor.as_ref());
        for budget in budgets.of(function) {
            let floor_value = floor.map(|f| f.value(budget.measure));
            let verdict = budget.check(row.value(budget.measure), floor_value);
            // A relative budget needs a floor, which every function has here.
            let verdict = verdict.unwrap_or(Verdict {
                limit: f64::NAN,
                measured: row.value(budget.measure),
                met: false,
            });
            checked.push(report::Checked {
                function: function.clone(),
                budget: budget.clone(),
                verdict,
            });
        }
    }
    checked
}

impl report::Row {
    /// The measure in its unit: bytes or seconds.
    fn value(&self, measure: Measure) -> f64 {
        match measure {
            Measure::Zip => self.zip_bytes as f64,
            Measure::Rss => self.rss_bytes as f64,
            Measure::Init => self.init.as_secs_f64(),
            Measure::First => self.first.as_secs_f64(),
            Measure::Cpu => self.cpu.as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values = ms(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&values), Duration::from_millis(3));
        assert_eq!(percentile(&values, 0.99), Duration::from_millis(5));
        assert_eq!(
            percentile(&ms(&(1..=200).collect::<Vec<_>>()), 0.99),
            Duration::from_millis(198)
        );
        assert_eq!(median(&ms(&[2, 1, 4, 3])), Duration::from_millis(2));
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
