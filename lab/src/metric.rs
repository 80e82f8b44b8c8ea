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
