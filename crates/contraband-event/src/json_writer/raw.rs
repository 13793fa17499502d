//! serde_json's `RawValue`: JSON text kept as it was read, written verbatim.
//!
//! `RawValue` has no way to tell a serializer what it is but its name: it
//! serializes as a struct named [`RAW_VALUE_TOKEN`] with one field of that
//! name holding its text, and serde_json's serializer writes that text as it
//! stands when it sees the name. Any other serializer writes it as an object
//! (`{"$serde_json::private::RawValue":"..."}`): an alert's embedded record
//! would come out as a string inside one. The name is serde_json's private detail,
//! so the tests write a `RawValue` with both serializers and compare: they
//! fail if serde_json ever renames it.

use std::fmt;

use serde::ser::{self, Serialize};

use super::Error;

/// The name of the struct, and of its one field, that `RawValue` serializes
/// as (serde_json's `raw::TOKEN`).
pub(super) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Takes a `RawValue`'s text, and nothing else.
pub(super) struct RawText<'a>(&'a mut Vec<u8>);

impl RawText<'_> {
    /// Writes the field `key` of a `RawValue`: its text.
    pub(super) fn write<T: ?Sized + Serialize>(
        out: &mut Vec<u8>,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if key != RAW_VALUE_TOKEN {
            return Err(Error::data("expected value"));
        }
        value.serialize(RawText(out))
    }
}

fn expected_raw_value() -> Error {
    Error::data("expected RawValue")
}

impl ser::Serializer for RawText<'_> {
    no_compounds!(expected_raw_value());

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Result<(), Error> {
        self.serialize_str(&value.to_string())
    }

    refuse! {
        expected_raw_value();
        fn serialize_bool(bool) -> ();
        fn serialize_i8(i8) -> ();
        fn serialize_i16(i16) -> ();
        fn serialize_i32(i32) -> ();
        fn serialize_i64(i64) -> ();
        fn serialize_i128(i128) -> ();
        fn serialize_u8(u8) -> ();
        fn serialize_u16(u16) -> ();
        fn serialize_u32(u32) -> ();
        fn serialize_u64(u64) -> ();
        fn serialize_u128(u128) -> ();
        fn serialize_f32(f32) -> ();
        fn serialize_f64(f64) -> ();
        fn serialize_char(char) -> ();
        fn serialize_bytes(&[u8]) -> ();
        fn serialize_none() -> ();
        fn serialize_some<T>(&T) -> ();
        fn serialize_unit() -> ();
        fn serialize_unit_struct(&'static str) -> ();
        fn serialize_unit_variant(&'static str, u32, &'static str) -> ();
        fn serialize_newtype_struct<T>(&'static str, &T) -> ();
        fn serialize_newtype_variant<T>(&'static str, u32, &'static str, &T) -> ();
    }
}
