//! The budgets `make bench` checks, written once in `bench/budgets` (which
//! `scripts/check-zip-sizes.sh` reads too, for `make build`).
//!
//! One budget a line: `FUNCTION MEASURE LIMIT [pending]`. FUNCTION is a
//! logical id of template.yaml, or `*` for every function without a line of
//! its own for that measure. LIMIT is an absolute value (`3.0MB`, `8MB`,
//! `500us`) or relative to the function's floor (`floor+1ms`, `floor*1.3`).
//! `pending`: reported, but a miss does not fail the run.

use std::fmt;

/// What a budget bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// The arm64 zip, in bytes.
    Zip,
    /// Process start to the first poll for an invocation, in seconds.
    Init,
    /// Process start to the first response, in seconds.
    First,
    /// CPU time per warm invocation, in seconds.
    Cpu,
    /// Peak resident memory, in bytes.
    Rss,
}

impl Measure {
    const ALL: [Measure; 5] = [
        Measure::Zip,
        Measure::Init,
        Measure::First,
        Measure::Cpu,
        Measure::Rss,
    ];

    /// Its name in the budgets file.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Zip => "zip",
            Measure::Init => "init",
            Measure::First => "first",
            Measure::Cpu => "cpu",
            Measure::Rss => "rss",
        }
    }

    /// Its name in the report.
    pub fn title(self) -> &'static str {
        match self {
            Measure::Zip => "arm64 zip",
            Measure::Init => "init",
            Measure::First => "first response",
            Measure::Cpu => "CPU per warm call",
            Measure::Rss => "max RSS",
        }
    }

    fn is_size(self) -> bool {
        matches!(self, Measure::Zip | Measure::Rss)
    }

    /// `value` (bytes or seconds) written the way the report writes this measure.
    pub fn show(self, value: f64) -> String {
        match self {
            Measure::Zip => format!("{:.2} MB", value / 1e6),
            Measure::Rss => format!("{:.1} MB", value / 1e6),
            Measure::Init | Measure::First => format!("{:.2} ms", value * 1e3),
            Measure::Cpu => format!("{:.0} µs", value * 1e6),
        }
    }
}

/// A bound, in the measure's unit (bytes or seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    AtMost(f64),
    FloorPlus(f64),
    FloorTimes(f64),
}

/// One line of the budgets file.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// A logical id, or `*`.
    pub function: String,
    pub measure: Measure,
    pub limit: Limit,
    /// The limit as written.
    pub written: String,
    /// False for a `pending` budget: reported, not enforced.
    pub enforced: bool,
}

/// What a budget made of a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The bound in the measure's unit, the floor applied.
    pub limit: f64,
    pub measured: f64,
    pub met: bool,
}

impl Budget {
    /// Checks `measured` against this budget; `floor` is the same measure of
    /// the function's floor. `None` for a relative budget without a floor.
    pub fn check(&self, measured: f64, floor: Option<f64>) -> Option<Verdict> {
        let limit = match self.limit {
            Limit::AtMost(value) => value,
            Limit::FloorPlus(delta) => floor? + delta,
            Limit::FloorTimes(factor) => floor? * factor,
        };
        Some(Verdict {
            limit,
            measured,
            met: measured <= limit,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("budgets, line {line}: {message}")]
pub struct BudgetError {
    line: usize,
    message: String,
}

/// Every budget of the file.
#[derive(Debug, Clone, Default)]
pub struct Budgets(Vec<Budget>);

impl Budgets {
    pub fn parse(text: &str) -> Result<Budgets, BudgetError> {
        let mut budgets: Vec<Budget> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let error = |message: String| BudgetError {
                line: index + 1,
                message,
            };
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let (function, measure, limit, enforced) = match words.as_slice() {
                [function, measure, limit] => (function, measure, limit, true),
                [function, measure, limit, "pending"] => (function, measure, limit, false),
                _ => {
                    return Err(error(format!(
                        "expected FUNCTION MEASURE LIMIT [pending]: {line}"
                    )));
                }
            };
            let measure = Measure::ALL
                .into_iter()
                .find(|m| m.name() == *measure)
                .ok_or_else(|| error(format!("unknown measure {measure}")))?;
            let budget = Budget {
                function: (*function).to_owned(),
                measure,
                limit: parse_limit(limit, measure).map_err(error)?,
                written: (*limit).to_owned(),
                enforced,
            };
            if budgets
                .iter()
                .any(|b| b.function == budget.function && b.measure == measure)
            {
                return Err(error(format!(
                    "a second {} budget for {function}",
                    measure.name()
                )));
            }
            budgets.push(budget);
        }
        Ok(Budgets(budgets))
    }

    /// The budgets of `function`: its own lines, and the `*` lines of the
    /// measures it has none of.
    pub fn of(&self, function: &str) -> Vec<&Budget> {
        let own = |measure: Measure| {
            self.0
                .iter()
                .find(|b| b.function == function && b.measure == measure)
        };
        Measure::ALL
            .into_iter()
            .filter_map(|measure| {
                own(measure).or_else(|| {
                    self.0
                        .iter()
                        .find(|b| b.function == "*" && b.measure == measure)
                })
            })
            .collect()
    }
}

fn parse_limit(text: &str, measure: Measure) -> Result<Limit, String> {
    if let Some(factor) = text.strip_prefix("floor*") {
        let factor = factor
            .parse()
            .map_err(|_| format!("{text}: floor*FACTOR takes a number"))?;
        return Ok(Limit::FloorTimes(factor));
    }
    match text.strip_prefix("floor+") {
        Some(delta) => Ok(Limit::FloorPlus(quantity(delta, measure)?)),
        None => Ok(Limit::AtMost(quantity(text, measure)?)),
    }
}

/// `1.5MB` in bytes or `2ms` in seconds, as the measure counts.
fn quantity(text: &str, measure: Measure) -> Result<f64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text}: a unit is missing"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text}: not a number"))?;
    let (scale, is_size) = match unit {
        "B" => (1.0, true),
        "kB" => (1e3, true),
        "MB" => (1e6, true),
        "KiB" => (1024.0, true),
        "MiB" => (1024.0 * 1024.0, true),
        "ns" => (1e-9, false),
        "us" | "µs" => (1e-6, false),
        "ms" => (1e-3, false),
        "s" => (1.0, false),
        _ => return Err(format!("{text}: unknown unit {unit}")),
    };
    if is_size != measure.is_size() {
        return Err(format!("{text}: not a unit of {}", measure.name()));
    }
    Ok(number * scale)
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ≤ {}", self.measure.title(), self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
# comment
ValidateJwtFunction  zip    1.0MB      pending
ValidateJwtFunction  init   floor+1ms
ValidateJwtFunction  cpu    floor*1.3  # a comment after
*                    zip    3.0MB
*                    init   floor+5ms
*                    rss    20MB
";

    #[test]
    fn a_function_takes_its_own_budgets_and_the_default_ones_it_lacks() {
        let budgets = Budgets::parse(FILE).unwrap();
        let authorizer: Vec<_> = budgets
            .of("ValidateJwtFunction")
            .iter()
            .map(|b| (b.measure, b.limit, b.enforced))
            .collect();
        assert_eq!(
            authorizer,
            [
                (Measure::Zip, Limit::AtMost(1e6), false),
                (Measure::Init, Limit::FloorPlus(1e-3), true),
                (Measure::Cpu, Limit::FloorTimes(1.3), true),
                (Measure::Rss, Limit::AtMost(20e6), true),
            ]
        );
        let products: Vec<_> = budgets
            .of("ProductsFunction")
            .iter()
            .map(|b| (b.measure, b.written.as_str()))
            .collect();
        assert_eq!(
            products,
            [
                (Measure::Zip, "3.0MB"),
                (Measure::Init, "floor+5ms"),
                (Measure::Rss, "20MB")
            ]
        );
    }

    #[test]
    fn relative_budgets_apply_the_floor() {
        let budgets = Budgets::parse(FILE).unwrap();
        let init = budgets.of("ValidateJwtFunction")[1];
        let verdict = init.check(0.0035, Some(0.0026)).unwrap();
        assert!(verdict.met);
        assert!((verdict.limit - 0.0036).abs() < 1e-12);
        assert!(!init.check(0.0037, Some(0.0026)).unwrap().met);
        assert_eq!(init.check(0.0037, None), None);
        let cpu = budgets.of("ValidateJwtFunction")[2];
        assert!(cpu.check(130.0, Some(100.0)).unwrap().met);
        assert!(!cpu.check(131.0, Some(100.0)).unwrap().met);
    }

    #[test]
    fn mistakes_in_the_file_are_errors_with_their_line() {
        for (text, expected) in [
            ("* zip 3.0", "line 1: 3.0: a unit is missing"),
            ("* zip 3ms", "line 1: 3ms: not a unit of zip"),
            ("* size 3MB", "line 1: unknown measure size"),
            ("* init floor+5", "line 1: 5: a unit is missing"),
            ("* zip 3MB\n* zip 4MB", "line 2: a second zip budget for *"),
            (
                "* zip 3MB later",
                "line 1: expected FUNCTION MEASURE LIMIT [pending]",
            ),
        ] {
            let error = Budgets::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn the_project_budgets_parse() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/budgets");
        let budgets = Budgets::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(!budgets.of("ValidateJwtFunction").is_empty());
    }
}
