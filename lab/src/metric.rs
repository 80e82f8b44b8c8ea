//! [`Metric`]: what a task's runs are scored by, and which way is better.

/// The score the report compares for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Classification accuracy: higher is better.
    Accuracy,
    /// Mean squared error (regression): lower is better.
    Mse,
}

impl Metric {
    /// The name in reports and CSV files: `"accuracy"` or `"mse"`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mse => "mse",
        }
    }

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Metric::Accuracy, Metric::Mse]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Whether a lower value is better.
    pub fn lower_is_better(self) -> bool {
        self == Metric::Mse
    }

    /// `value` on a higher-is-better scale (MSE negated).
    pub fn score(self, value: f64) -> f64 {
        if self.lower_is_better() {
            -value
        } else {
            value
        }
    }

    /// Whether `value` can be this metric of a run: accuracy in [0, 1], MSE
    /// finite and >= 0, or NaN (a diverged run).
    pub fn admits(self, value: f64) -> bool {
        value.is_nan()
            || match self {
                Metric::Accuracy => (0.0..=1.0).contains(&value),
                Metric::Mse => value >= 0.0 && value.is_finite(),
            }
    }
}

/// The first row (of `rows`, described by `row` as task, metric and a label
/// naming the row) whose task another row scores by another metric, as a
/// message naming both rows; `None` when every task has one metric. Errors
/// are computed from the metric each row names, so a task with two would be
/// scored on the wrong scale.
pub(crate) fn mixed_metric<'a, R: 'a>(
    rows: impl IntoIterator<Item = &'a R>,
    row: impl Fn(&'a R) -> (&'a str, Metric, String),
) -> Option<String> {
    let mut first: std::collections::HashMap<&str, (Metric, String)> = Default::default();
    for r in rows {
        let (task, metric, label) = row(r);
        let (want, other) = first.entry(task).or_insert((metric, label.clone()));
        if *want != metric {
            return Some(format!(
                "task \"{task}\" is scored by {} in the row of {other} and by {} in the row of {label}",
                want.name(),
                metric.name()
            ));
        }
    }
    None
}
