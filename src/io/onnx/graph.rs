//! An ONNX graph under construction: nodes, constant tensors and the model
//! message around them (field numbers from onnx/onnx.proto, IR version 7,
//! operator set 13).

use super::protobuf::Message;

/// The operator-set version the export targets: old enough for every
/// runtime in use (onnxruntime, tract, TensorRT, onnx.js), new enough for
/// `Gather`, `Erf` and `ReduceMean` with the semantics used here.
pub(crate) const OPSET: i64 = 13;
/// The IR version that goes with [`OPSET`].
const IR_VERSION: i64 = 7;

/// ONNX's element type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F32 = 1,
    I64 = 7,
    F64 = 11,
}

/// A node attribute.
pub(crate) enum Attr {
    Int(i64),
    Ints(&'static [i64]),
    Float(f32),
}

/// A graph being built. Every value has a unique name; every node one output.
pub(crate) struct Graph {
    float: Elem,
    nodes: Vec<Message>,
    initializers: Vec<Message>,
    raw_bytes: usize,
    next: usize,
}

impl Graph {
    /// An empty graph whose floating-point tensors are of type `float`.
    pub(crate) fn new(float: Elem) -> Self {
        Graph {
            float,
            nodes: Vec::new(),
            initializers: Vec::new(),
            raw_bytes: 0,
            next: 0,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// A constant float tensor of shape `dims` (row-major `values`), stored
    /// in the graph's float type.
    pub(crate) fn floats(&mut self, hint: &str, dims: &[usize], values: &[f64]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len());
        let raw: Vec<u8> = match self.float {
            Elem::F32 => values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
            _ => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        };
        let elem = self.float;
        self.tensor(hint, dims, elem, raw)
    }

    /// The bytes of every constant tensor so far.
    pub(crate) fn tensor_bytes(&self) -> usize {
        self.raw_bytes
    }

    /// A float scalar constant.
    pub(crate) fn scalar(&mut self, hint: &str, v: f64) -> String {
        self.floats(hint, &[], &[v])
    }

    /// A constant one-dimensional `int64` tensor.
    pub(crate) fn indices(&mut self, hint: &str, values: &[usize]) -> String {
        let raw = values
            .iter()
            .flat_map(|&v| (v as i64).to_le_bytes())
            .collect();
        self.tensor(hint, &[values.len()], Elem::I64, raw)
    }

    fn tensor(&mut self, hint: &str, dims: &[usize], elem: Elem, raw: Vec<u8>) -> String {
        let name = self.fresh(hint);
        let mut t = Message::new();
        for &d in dims {
            t.int(1, d as i64);
        }
        t.int(2, elem as i64).string(8, &name).bytes(9, &raw);
        self.raw_bytes += raw.len();
        self.initializers.push(t);
        name
    }

    /// A node `op(inputs)` with `attrs`; returns its output's name.
    pub(crate) fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_into(op, inputs, attrs, &out);
        out
    }

    fn node_into(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: &str) {
        let mut n = Message::new();
        for i in inputs {
            n.string(1, i);
        }
        n.string(2, out).string(3, out).string(4, op);
        for (name, value) in attrs {
            let mut a = Message::new();
            a.string(1, name);
            match *value {
                Attr::Float(f) => a.float(2, f).int(20, 1),
                Attr::Int(i) => a.int(3, i).int(20, 2),
                Attr::Ints(list) => {
                    for &i in list {
                        a.int(8, i);
                    }
                    a.int(20, 7)
                }
            };
            n.message(5, &a);
        }
        self.nodes.push(n);
    }

    /// The model: the graph with input `input` (`batch × inputs`) and the
    /// value `last` exposed as output `output` (`batch × outputs`).
    pub(crate) fn into_model(
        mut self,
        last: &str,
        inputs: usize,
        outputs: usize,
        doc: &str,
        metadata: &[(String, String)],
    ) -> Vec<u8> {
        self.node_into("Identity", &[last], &[], OUTPUT);
        let mut graph = Message::new();
        for n in &self.nodes {
            graph.message(1, n);
        }
        graph.string(2, "mixact");
        for t in &self.initializers {
            graph.message(5, t);
        }
        graph.message(11, &value_info(INPUT, self.float, inputs));
        graph.message(12, &value_info(OUTPUT, self.float, outputs));

        let mut opset = Message::new();
        opset.string(1, "").int(2, OPSET);
        let mut model = Message::new();
        model
            .int(1, IR_VERSION)
            .string(2, "mixact")
            .string(3, env!("CARGO_PKG_VERSION"))
            .string(6, doc)
            .message(7, &graph)
            .message(8, &opset);
        for (k, v) in metadata {
            let mut e = Message::new();
            e.string(1, k).string(2, v);
            model.message(14, &e);
        }
        model.into_bytes()
    }
}

/// The graph input's name.
pub(crate) const INPUT: &str = "input";
/// The graph output's name.
pub(crate) const OUTPUT: &str = "output";

/// `name: elem[batch, width]`, with a symbolic batch dimension.
fn value_info(name: &str, elem: Elem, width: usize) -> Message {
    let mut batch = Message::new();
    batch.string(2, "batch");
    let mut cols = Message::new();
    cols.int(1, width as i64);
    let mut shape = Message::new();
    shape.message(1, &batch).message(1, &cols);
    let mut tensor = Message::new();
    tensor.int(1, elem as i64).message(2, &shape);
    let mut ty = Message::new();
    ty.message(1, &tensor);
    let mut info = Message::new();
    info.string(1, name).message(2, &ty);
    info
}
