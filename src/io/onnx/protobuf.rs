//! The few protocol-buffer encodings an ONNX file needs, written by hand:
//! the format is small and stable, and a generated-code dependency (prost and
//! a build script) would be the largest part of the library for one feature.

/// One protocol-buffer message being written: fields appended in any order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Message {
    bytes: Vec<u8>,
}

const VARINT: u32 = 0;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

impl Message {
    pub(crate) fn new() -> Self {
        Message::default()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bytes.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from((field << 3) | wire));
    }

    /// An `int64`/`int32`/enum field (negative values as ten-byte two's complement).
    pub(crate) fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, VARINT);
        self.varint(v as u64);
        self
    }

    /// A `float` field.
    pub(crate) fn float(&mut self, field: u32, v: f32) -> &mut Self {
        self.key(field, FIXED32);
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `bytes` field.
    pub(crate) fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.bytes.extend_from_slice(v);
        self
    }

    /// A `string` field.
    pub(crate) fn string(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message field.
    pub(crate) fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes(field, &m.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn varints_follow_the_protobuf_encoding() {
        // The examples of the protobuf encoding guide.
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.into_bytes(), [0x08, 0x96, 0x01]);
        let mut m = Message::new();
        m.int(1, -1);
        assert_eq!(m.into_bytes().len(), 11);
    }

    #[test]
    fn strings_and_messages_are_length_delimited() {
        let mut m = Message::new();
        m.string(2, "testing");
        assert_eq!(m.clone().into_bytes(), b"\x12\x07testing");
        let mut outer = Message::new();
        outer.message(3, &m);
        assert_eq!(outer.into_bytes(), b"\x1a\x09\x12\x07testing");
    }

    #[test]
    fn floats_are_four_little_endian_bytes() {
        let mut m = Message::new();
        m.float(2, 1.0);
        assert_eq!(m.into_bytes(), [0x15, 0x00, 0x00, 0x80, 0x3f]);
    }
}
