//! One error type for the whole crate, and its `Result` alias.
//!
//! Every user-facing constructor and call validates its input and returns one
//! of these; the library does not panic on user input. Each variant names what
//! was wrong precisely enough to fix it without reading the source: which
//! layer, which shape was expected and which came.

use std::fmt;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in mixact.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A matrix had the wrong shape.
    Shape {
        /// Index of the layer in its network, when known.
        layer: Option<usize>,
        /// What the matrix is ("input", "upstream gradient", "targets", ...).
        what: &'static str,
        /// Expected rows; `None` when any number is accepted (the batch).
        expected_rows: Option<usize>,
        /// Expected columns; `None` when any number is accepted.
        expected_cols: Option<usize>,
        /// Rows received.
        got_rows: usize,
        /// Columns received.
        got_cols: usize,
    },
    /// A width (inputs, neurons, branch, batch size, ...) was zero.
    ZeroWidth {
        /// Which width.
        what: &'static str,
    },
    /// A list that must not be empty was empty (a mask, a set of branches, candidates, layers).
    Empty {
        /// Which list.
        what: &'static str,
    },
    /// A per-neuron list had the wrong length.
    Length {
        /// Which list.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A hyper-parameter (learning rate, momentum, proportion, ...) was out of range or not finite.
    HyperParameter {
        /// Its name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// Input data contained a NaN or an infinity.
    NonFiniteData {
        /// Which data ("inputs", "targets", ...).
        what: &'static str,
        /// Row of the first offending value.
        row: usize,
        /// Column of the first offending value.
        col: usize,
    },
    /// A class label was outside `0..classes`.
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// `backward` was called without a matching `forward` before it.
    BackwardBeforeForward {
        /// Index of the layer in its network, when known.
        layer: Option<usize>,
    },
    /// Training diverged; the trainer restored finite parameters from before
    /// the step that caused it.
    Diverged {
        /// Epoch (0-based) of the step where it was detected.
        epoch: usize,
        /// Step within the epoch (0-based).
        step: usize,
        /// The first layer whose gradient or updated parameters went
        /// non-finite; `None` when the loss gave it away.
        layer: Option<usize>,
        /// What was seen.
        cause: Divergence,
    },
    /// A size computed from the caller's input (a width, a sample count, a
    /// class label, a file's contents) is beyond what one allocation may hold
    /// (see [`limits`](crate::limits)). Reported before anything is allocated.
    TooLarge {
        /// What would have been allocated ("weights", "one-hot targets", ...).
        what: &'static str,
        /// The size requested (elements or bytes, as `what` says), computed without overflow.
        requested: u128,
        /// The most that is accepted.
        limit: u128,
    },
    /// A target value is outside what the loss accepts (BCE targets in
    /// [0, 1]; softmax cross-entropy rows of non-negative values summing to 1).
    InvalidTarget {
        /// The loss ("bce_with_logits", "softmax_cross_entropy").
        loss: &'static str,
        /// Row of the first offending target.
        row: usize,
        /// Column of the first offending value (for a bad row sum, the last column).
        col: usize,
        /// The offending value (for a bad row sum, the sum).
        value: f64,
        /// What targets must satisfy.
        requirement: &'static str,
    },
    /// The network's output width does not suit the loss (softmax
    /// cross-entropy over one column is always 0 and learns nothing).
    LossOutputs {
        /// The loss.
        loss: &'static str,
        /// The fewest outputs it needs.
        minimum: usize,
        /// The network's output width.
        got: usize,
    },
    /// A file or data source could not be read or written.
    Io {
        /// The path or source.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A file's contents were malformed.
    Format {
        /// Where (file, line, or header field).
        location: String,
        /// What was wrong.
        message: String,
    },
    /// Settings that each make sense alone but not together (early stopping
    /// watching validation accuracy under a regression loss, say).
    Incompatible {
        /// The setting that cannot work.
        setting: &'static str,
        /// Why, and what would.
        reason: String,
    },
    /// A network could not be written in an exchange format: a layer kind
    /// or an activation has no rule there.
    Unexportable {
        /// The format (`"ONNX"`).
        format: &'static str,
        /// The layer's path in the network (`"layers.1"`), or "the network".
        layer: String,
        /// What has no rule, and how to give it one.
        reason: String,
    },
    /// A model file could not be loaded (or a network could not be saved).
    Model {
        /// Which kind of problem, one per distinct cause.
        kind: ModelErrorKind,
        /// Details: the tensor, field or value involved.
        detail: String,
    },
}

/// What the divergence guard saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Divergence {
    /// The batch loss was NaN or infinite.
    NonFiniteLoss,
    /// The batch loss exceeded the divergence factor times the first batch's loss.
    LossGrowth,
    /// A gradient was NaN or infinite.
    NonFiniteGradient,
    /// An update made a parameter NaN or infinite.
    NonFiniteParameter,
}

/// The distinct reasons a model file is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelErrorKind {
    /// The file ends before the data its header declares.
    Truncated,
    /// Not a mixact model: not safetensors, or no mixact architecture in its metadata.
    NotAModel,
    /// The header or architecture is not valid JSON of the expected form.
    Malformed,
    /// A format version this build does not know.
    UnknownVersion,
    /// The file stores another float type than the one asked for.
    WrongFloatType,
    /// An activation name the activation set does not know.
    UnknownActivation,
    /// Tensors and architecture disagree (missing, extra or mis-shaped tensors, widths that do not chain).
    InconsistentShape,
    /// A parameter is NaN or infinite (allowed only with `ModelLoader::with_non_finite`).
    NonFinite,
    /// A declared size is beyond what the format or this build accepts.
    TooLarge,
    /// The network holds a layer type that model files cannot describe.
    UnsupportedLayer,
}

impl Error {
    /// Attaches a layer index to errors raised inside a layer that did not know its position.
    pub(crate) fn at_layer(self, index: usize) -> Self {
        match self {
            Error::Shape {
                layer: None,
                what,
                expected_rows,
                expected_cols,
                got_rows,
                got_cols,
            } => Error::Shape {
                layer: Some(index),
                what,
                expected_rows,
                expected_cols,
                got_rows,
                got_cols,
            },
            Error::BackwardBeforeForward { layer: None } => {
                Error::BackwardBeforeForward { layer: Some(index) }
            }
            other => other,
        }
    }

    /// An IO failure at `path`.
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub(crate) fn shape(
        what: &'static str,
        expected: (Option<usize>, Option<usize>),
        got: (usize, usize),
    ) -> Self {
        Error::Shape {
            layer: None,
            what,
            expected_rows: expected.0,
            expected_cols: expected.1,
            got_rows: got.0,
            got_cols: got.1,
        }
    }
}

fn dim(d: Option<usize>) -> String {
    d.map_or_else(|| "any".to_string(), |d| d.to_string())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape {
                layer,
                what,
                expected_rows,
                expected_cols,
                got_rows,
                got_cols,
            } => {
                if let Some(l) = layer {
                    write!(f, "layer {l}: ")?;
                }
                write!(
                    f,
                    "{what} has shape {got_rows} x {got_cols}, expected {} x {}",
                    dim(*expected_rows),
                    dim(*expected_cols)
                )
            }
            Error::ZeroWidth { what } => write!(f, "{what} must be at least 1, got 0"),
            Error::Empty { what } => write!(f, "{what} must not be empty"),
            Error::Length {
                what,
                expected,
                got,
            } => write!(f, "{what} has length {got}, expected {expected}"),
            Error::HyperParameter {
                name,
                value,
                requirement,
            } => write!(f, "hyper-parameter {name} = {value}: must be {requirement}"),
            Error::NonFiniteData { what, row, col } => {
                write!(
                    f,
                    "{what} contain a NaN or infinity at row {row}, column {col}"
                )
            }
            Error::LabelOutOfRange { label, classes } => {
                write!(f, "label {label} is out of range for {classes} classes")
            }
            Error::BackwardBeforeForward { layer } => {
                if let Some(l) = layer {
                    write!(f, "layer {l}: ")?;
                }
                write!(
                    f,
                    "backward called without a forward pass on the same batch"
                )
            }
            Error::Diverged {
                epoch,
                step,
                layer,
                cause,
            } => {
                write!(f, "training diverged at epoch {epoch}, step {step}: ")?;
                let at = layer.map_or(String::new(), |l| format!(" of layer {l}"));
                match cause {
                    Divergence::NonFiniteLoss => write!(f, "the loss became NaN or infinite")?,
                    Divergence::LossGrowth => {
                        write!(f, "the loss grew past the divergence factor")?
                    }
                    Divergence::NonFiniteGradient => {
                        write!(f, "a gradient{at} became NaN or infinite")?
                    }
                    Divergence::NonFiniteParameter => {
                        write!(f, "the update made a parameter{at} NaN or infinite")?
                    }
                }
                write!(
                    f,
                    "; parameters left as they were before the step that caused it"
                )
            }
            Error::TooLarge {
                what,
                requested,
                limit,
            } => write!(
                f,
                "{what}: {requested} requested, more than the limit of {limit} \
                 (see mixact::limits)"
            ),
            Error::InvalidTarget {
                loss,
                row,
                col,
                value,
                requirement,
            } => write!(
                f,
                "{loss}: target at row {row}, column {col} is {value}; targets must be {requirement}"
            ),
            Error::LossOutputs {
                loss,
                minimum,
                got,
            } => write!(
                f,
                "{loss} needs at least {minimum} outputs, the network has {got}"
            ),
            Error::Io { path, message } => write!(f, "{path}: {message}"),
            Error::Format { location, message } => write!(f, "{location}: {message}"),
            Error::Incompatible { setting, reason } => write!(f, "{setting}: {reason}"),
            Error::Unexportable {
                format,
                layer,
                reason,
            } => write!(f, "cannot export {layer} to {format}: {reason}"),
            Error::Model { kind, detail } => write!(f, "model file: {kind:?}: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that a hyper-parameter is finite and satisfies `ok`.
pub(crate) fn check_hyper(
    name: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(Error::HyperParameter {
            name,
            value,
            requirement,
        })
    }
}
