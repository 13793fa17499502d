//! Compact JSON, byte for byte as `serde_json::to_writer` writes it, in about
//! half the instructions for an alert.
//!
//! serde_json checks each byte of a string for escaping through a table, one
//! byte at a time, and writes quotes, commas and colons as separate writes;
//! an alert is mostly strings, keys among them. Here a string of up to 32
//! bytes is tested as a few 8-byte words and written with its punctuation
//! (`,"key":`) in two pieces of fixed size; a longer one is scanned sixteen
//! bytes a step and its clean runs copied whole. Everything else (numbers,
//! `null` for floats that are not finite, enums, map keys that are not
//! strings, `RawValue`) is written as serde_json writes it; the tests compare
//! the two on arbitrary values.
//!
//! Output is built in a `Vec<u8>`: a write to a vector is a capacity check
//! and a store, where each `io::Write` call is a call and a copy of its own.
//! Callers write the finished text at once, so a value that fails to
//! serialize writes nothing.

/// Serializer methods that refuse what they are given with `$error`: map keys
/// other than strings, numbers and the like, and anything in a `RawValue`
/// but its text.
macro_rules! refuse {
    ($error:expr; $(fn $method:ident $(<$t:ident>)? ($($arg:ty),*) -> $ret:ty;)*) => {
        $(
            fn $method $(<$t: ?Sized + serde::Serialize>)? (
                self,
                $(_: $arg),*
            ) -> Result<$ret, Error> {
                Err($error)
            }
        )*
    };
}

/// The ten integer methods of a serializer over a vector (`self.0`), each
/// writing its integer with `$write`.
macro_rules! integers {
    ($write:path) => {
        integers!($write; serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
            serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    };
    ($write:path; $($method:ident: $int:ty),*) => {
        $(
            fn $method(self, v: $int) -> Result<(), Error> {
                $write(self.0, v);
                Ok(())
            }
        )*
    };
}

/// The compound types of a serializer that writes scalars only, and its
/// methods that would start one, refusing with `$error`.
macro_rules! no_compounds {
    ($error:expr) => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = serde::ser::Impossible<(), Error>;
        type SerializeTuple = serde::ser::Impossible<(), Error>;
        type SerializeTupleStruct = serde::ser::Impossible<(), Error>;
        type SerializeTupleVariant = serde::ser::Impossible<(), Error>;
        type SerializeMap = serde::ser::Impossible<(), Error>;
        type SerializeStruct = serde::ser::Impossible<(), Error>;
        type SerializeStructVariant = serde::ser::Impossible<(), Error>;

        refuse! {
            $error;
            fn serialize_seq(Option<usize>) -> Self::SerializeSeq;
            fn serialize_tuple(usize) -> Self::SerializeTuple;
            fn serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
            fn serialize_tuple_variant(&'static str, u32, &'static str, usize)
                -> Self::SerializeTupleVariant;
            fn serialize_map(Option<usize>) -> Self::SerializeMap;
            fn serialize_struct(&'static str, usize) -> Self::SerializeStruct;
            fn serialize_struct_variant(&'static str, u32, &'static str, usize)
                -> Self::SerializeStructVariant;
        }
    };
}

/// What serde_json sees through, in values and in keys alike: `Some` and a
/// newtype struct are what they hold, a unit variant is its name.
macro_rules! see_through {
    () => {
        fn serialize_some<T: ?Sized + serde::Serialize>(self, value: &T) -> Result<(), Error> {
            value.serialize(self)
        }

        fn serialize_newtype_struct<T: ?Sized + serde::Serialize>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            value.serialize(self)
        }

        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<(), Error> {
            self.serialize_str(variant)
        }
    };
}

mod error;
mod escape;
mod key;
mod raw;
#[cfg(test)]
mod tests;
mod writer;

use serde::Serialize;

pub use error::Error;

/// Serializes `value` as compact JSON, exactly as `serde_json::to_vec`
/// would.
///
/// # Errors
///
/// When `value`'s `Serialize` implementation fails, or when it has a map key
/// that JSON cannot have (see [`Error`]).
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(128);
    append(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as compact JSON to `out`, which callers that write many
/// values can reuse.
///
/// When serialization fails, `out` keeps what was written before the failure.
///
/// # Errors
///
/// When `value`'s `Serialize` implementation fails, or when it has a map key
/// that JSON cannot have (see [`Error`]).
pub fn append<T: ?Sized + Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(writer::Writer(out))
}
