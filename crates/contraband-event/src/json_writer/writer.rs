//! The serializer: every value but map keys and `RawValue` text.

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

use super::escape::{write_contents, write_str};
use super::key::KeyWriter;
use super::raw::{RawText, RAW_VALUE_TOKEN};
use super::Error;

/// Serializes one value to the end of a vector.
pub(super) struct Writer<'a>(pub(super) &'a mut Vec<u8>);

impl Writer<'_> {
    /// Opens `{"variant":`, the start of an enum variant that holds data.
    fn open_variant(&mut self, variant: &str) {
        self.0.push(b'{');
        write_str(self.0, variant);
        self.0.push(b':');
    }
}

/// Writes an integer as serde_json does, with `itoa`.
pub(super) fn write_integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Writes a finite float as serde_json does, with `zmij` (in the version
/// locked here; older ones used `ryu`: the differential tests would tell).
pub(super) fn write_finite(out: &mut Vec<u8>, f: impl zmij::Float) {
    out.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
}

/// Writes `value`'s `Display` text as a JSON string, escaped piece by piece
/// as it is formatted, never held whole.
pub(super) fn write_display(out: &mut Vec<u8>, value: &(impl ?Sized + fmt::Display)) {
    struct Escaping<'a>(&'a mut Vec<u8>);
    impl fmt::Write for Escaping<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            write_contents(self.0, s);
            Ok(())
        }
    }
    out.push(b'"');
    // Writing to a vector cannot fail; a `Display` that fails is a bug in
    // it, and its text so far stands, as in `ToString`.
    let _ = write!(Escaping(out), "{value}");
    out.push(b'"');
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    integers!(write_integer);

    /// JSON has no NaN or infinity: serde_json writes them as `null`.
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if v.is_finite() {
            write_finite(self.0, v);
            Ok(())
        } else {
            self.serialize_unit()
        }
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            write_finite(self.0, v);
            Ok(())
        } else {
            self.serialize_unit()
        }
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.0, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.0, v);
        Ok(())
    }

    /// An array of numbers, as serde_json writes bytes.
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant);
        value.serialize(Writer(&mut *self.0))?;
        self.0.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.0, b"[]", len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.open_variant(variant);
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(Compound::open(self.0, b"{}", len))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Compound {
                out: self.0,
                close: b'}',
                state: State::Raw,
            });
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.open_variant(variant);
        self.serialize_map(Some(len))
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Error> {
        write_display(self.0, value);
        Ok(())
    }
}

/// Where a compound value is: which separator the next element needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Declared empty, and closed when opened.
    Empty,
    First,
    Rest,
    /// A `RawValue`: its one field is its text.
    Raw,
}

/// An array or object being written (a struct is an object; an enum variant
/// with data is an object around one).
pub(super) struct Compound<'a> {
    out: &'a mut Vec<u8>,
    /// `]` or `}`.
    close: u8,
    state: State,
}

impl<'a> Compound<'a> {
    /// Writes the opening bracket of `brackets`, and the closing one too if
    /// `len` says there is nothing in between (as serde_json does).
    fn open(out: &'a mut Vec<u8>, brackets: &[u8; 2], len: Option<usize>) -> Compound<'a> {
        let state = if len == Some(0) {
            out.extend_from_slice(brackets);
            State::Empty
        } else {
            out.push(brackets[0]);
            State::First
        };
        Compound {
            out,
            close: brackets[1],
            state,
        }
    }

    /// The comma before every element but the first.
    #[inline]
    fn separate(&mut self) {
        if self.state != State::First {
            self.out.push(b',');
        }
        self.state = State::Rest;
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.separate();
        value.serialize(Writer(&mut *self.out))
    }

    fn close(self) -> &'a mut Vec<u8> {
        if self.state != State::Empty {
            self.out.push(self.close);
        }
        self.out
    }

    /// Closes the compound and the variant object around it.
    fn close_variant(self) -> Result<(), Error> {
        self.close().push(b'}');
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close_variant()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(KeyWriter(&mut *self.out))
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.out.push(b':');
        value.serialize(Writer(&mut *self.out))
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if self.state == State::Raw {
            return RawText::write(self.out, key, value);
        }
        self.separate();
        write_str(self.out, key);
        ser::SerializeMap::serialize_value(self, value)
    }

    fn end(self) -> Result<(), Error> {
        if self.state != State::Raw {
            self.close();
        }
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.close_variant()
    }
}
