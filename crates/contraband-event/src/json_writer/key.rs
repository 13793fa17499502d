//! Map keys: JSON object keys are strings, so serde_json writes the keys it
//! can as strings (numbers, booleans and chars in quotes) and refuses the
//! rest. These are the same keys, written the same way.

use std::fmt;

use serde::ser;

use super::escape::write_framed;
use super::writer::{write_display, write_finite, write_integer};
use super::Error;

/// Serializes one map key, and the colon after it, to the end of a vector.
pub(super) struct KeyWriter<'a>(pub(super) &'a mut Vec<u8>);

fn key_must_be_a_string() -> Error {
    Error::data("key must be a string")
}

/// Writes an integer key in quotes.
fn write_quoted_integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.push(b'"');
    write_integer(out, n);
    out.extend_from_slice(b"\":");
}

/// Writes a float key in quotes; JSON has no text for one that is not
/// finite, and serde_json refuses it.
fn write_float_key(out: &mut Vec<u8>, f: impl zmij::Float, finite: bool) -> Result<(), Error> {
    if !finite {
        return Err(Error::data("float key must be finite (got NaN or +/-inf)"));
    }
    out.push(b'"');
    write_finite(out, f);
    out.extend_from_slice(b"\":");
    Ok(())
}

impl ser::Serializer for KeyWriter<'_> {
    no_compounds!(key_must_be_a_string());
    see_through!();

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_framed(self.0, *b"\"", v, *b"\":");
        Ok(())
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.serialize_str(if v { "true" } else { "false" })
    }

    integers!(write_quoted_integer);

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float_key(self.0, v, v.is_finite())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float_key(self.0, v, v.is_finite())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Error> {
        write_display(self.0, value);
        self.0.push(b':');
        Ok(())
    }

    refuse! {
        key_must_be_a_string();
        fn serialize_bytes(&[u8]) -> ();
        fn serialize_none() -> ();
        fn serialize_unit() -> ();
        fn serialize_unit_struct(&'static str) -> ();
        fn serialize_newtype_variant<T>(&'static str, u32, &'static str, &T) -> ();
    }
}
