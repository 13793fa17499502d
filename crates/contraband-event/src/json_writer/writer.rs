//! The serializer: every value but map keys and `RawValue` text.

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

use super::escape::{write_contents, write_framed, write_str};
use super::key::KeyWriter;
use super::raw::{RawText, RAW_VALUE_TOKEN};
use super::Error;

/// Serializes one value to the end of a vector.
pub(super) struct Writer<'a>(pub(super) &'a mut Vec<u8>);

impl Writer<'_> {
    /// Opens `{"variant":`, the start of an enum variant that holds data.
    fn open_variant(&mut self, variant: &str) {
        write_framed(self.0, *b"{\"", variant, *b"\":");
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

/// Writes a float; JSON has no NaN or infinity, and serde_json writes them
/// as `null`.
fn write_float(out: &mut Vec<u8>, f: impl zmij::Float, finite: bool) {
    if finite {
        write_finite(out, f);
    } else {
        out.extend_from_slice(b"null");
    }
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
    // Writing to a vector cannot fail. A `Display` that fails on its own is
    // a bug in it (serde_json and `ToString` panic on one): what it wrote
    // before it failed stands.
    let _ = write!(Escaping(out), "{value}");
    out.push(b'"');
}

/// The enum variants that hold a compound: `{"variant":` and the compound,
/// which closes the object when it ends.
macro_rules! compound_variants {
    ($($method:ident -> $compound:ident: $brackets:expr;)*) => {
        $(
            fn $method(
                mut self,
                _name: &'static str,
                _index: u32,
                variant: &'static str,
                len: usize,
            ) -> Result<Self::$compound, Error> {
                self.open_variant(variant);
                Ok(Compound::open(self.0, $brackets, Some(len)))
            }
        )*
    };
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

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float(self.0, v, v.is_finite());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float(self.0, v, v.is_finite());
        Ok(())
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

    fn serialize_unit(self) -> Result<(), Error> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    see_through!();

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

    compound_variants! {
        serialize_tuple_variant -> SerializeTupleVariant: b"[]";
        serialize_struct_variant -> SerializeStructVariant: b"{}";
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

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if self.state == State::Raw {
            return RawText::write(self.out, key, value);
        }
        if self.state == State::First {
            write_framed(self.out, *b"\"", key, *b"\":");
        } else {
            write_framed(self.out, *b",\"", key, *b"\":");
        }
        self.state = State::Rest;
        value.serialize(Writer(&mut *self.out))
    }

    /// A struct's end; a `RawValue` has no bracket to close.
    fn end_struct(self) -> Result<(), Error> {
        if self.state == State::Raw {
            return Ok(());
        }
        self.end_plain()
    }

    fn end_plain(self) -> Result<(), Error> {
        self.close();
        Ok(())
    }

    /// Closes the compound and the variant object around it.
    fn end_variant(self) -> Result<(), Error> {
        self.close().push(b'}');
        Ok(())
    }
}

/// The compounds whose parts are elements, separated by commas.
macro_rules! elements {
    ($($trait:ident::$method:ident, $end:ident;)*) => {
        $(
            impl ser::$trait for Compound<'_> {
                type Ok = ();
                type Error = Error;

                fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
                    self.element(value)
                }

                fn end(self) -> Result<(), Error> {
                    self.$end()
                }
            }
        )*
    };
}

elements! {
    SerializeSeq::serialize_element, end_plain;
    SerializeTuple::serialize_element, end_plain;
    SerializeTupleStruct::serialize_field, end_plain;
    SerializeTupleVariant::serialize_field, end_variant;
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.separate();
        key.serialize(KeyWriter(&mut *self.out))
    }

    /// The colon before it was written with the key.
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Writer(&mut *self.out))
    }

    fn end(self) -> Result<(), Error> {
        self.end_plain()
    }
}

/// The compounds whose parts are named fields: structs and struct variants.
macro_rules! fields {
    ($($trait:ident, $end:ident;)*) => {
        $(
            impl ser::$trait for Compound<'_> {
                type Ok = ();
                type Error = Error;

                fn serialize_field<T: ?Sized + Serialize>(
                    &mut self,
                    key: &'static str,
                    value: &T,
                ) -> Result<(), Error> {
                    self.field(key, value)
                }

                fn end(self) -> Result<(), Error> {
                    self.$end()
                }
            }
        )*
    };
}

fields! {
    SerializeStruct, end_struct;
    SerializeStructVariant, end_variant;
}
