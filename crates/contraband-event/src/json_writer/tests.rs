//! The writer against serde_json: the same bytes for every value, the same
//! errors for values JSON cannot hold.

use std::collections::BTreeMap;
use std::fmt;

use proptest::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::*;

/// Serializes `value` with both writers and compares: equal text, or an
/// error from both with the same message.
fn compare<T: ?Sized + Serialize>(value: &T) -> Result<(), TestCaseError> {
    match (to_vec(value), serde_json::to_vec(value)) {
        (Ok(ours), Ok(theirs)) => prop_assert_eq!(
            String::from_utf8(ours).expect("UTF-8"),
            String::from_utf8(theirs).expect("UTF-8")
        ),
        (Err(ours), Err(theirs)) => prop_assert_eq!(ours.to_string(), theirs.to_string()),
        (ours, theirs) => prop_assert!(false, "ours: {ours:?}\nserde_json: {theirs:?}"),
    }
    Ok(())
}

fn assert_same<T: ?Sized + Serialize>(value: &T) {
    if let Err(err) = compare(value) {
        panic!("{err}");
    }
}

/// Text made mostly of what the escaper must tell apart: control bytes,
/// quotes, backslashes, the bytes around them, and multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    let char = prop_oneof![
        3 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => proptest::sample::select(vec!['"', '\\', '/', ' ', '!', '#', '[', ']', '\u{7f}']),
        1 => proptest::sample::select(vec!['é', '\u{80}', '\u{2028}', '→', '😀', '\u{10ffff}']),
        1 => any::<char>(),
    ];
    proptest::collection::vec(char, 0..40).prop_map(String::from_iter)
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        proptest::sample::select(EDGE_FLOATS.to_vec()).prop_map(Value::from),
    ]
}

const EDGE_FLOATS: [f64; 14] = [
    0.0,
    -0.0,
    0.1,
    -1.5,
    1e15,
    1e16,
    1e21,
    1e-7,
    123456789.125,
    f64::MIN_POSITIVE,
    5e-324,
    f64::MAX,
    f64::MIN,
    f64::EPSILON,
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            proptest::collection::vec((text(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn json_values_are_written_as_serde_json_writes_them(value in json_value()) {
        compare(&value)?;
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them(s in text()) {
        compare(&s)?;
        compare(&json!({ &s: [&s] }))?;
    }

    #[test]
    fn scalars_are_written_as_serde_json_writes_them(
        ints in any::<(i8, i16, i32, i64, i128)>(),
        uints in any::<(u8, u16, u32, u64, u128)>(),
        floats in any::<(f32, f64)>(),
        c in any::<char>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        compare(&(ints, uints, floats, c, Bytes(&bytes)))?;
    }

    #[test]
    fn keys_that_are_not_strings_are_written_as_serde_json_writes_them(
        ints in proptest::collection::btree_map(any::<i64>(), text(), 0..5),
        uints in proptest::collection::btree_map(any::<u128>(), any::<bool>(), 0..5),
        chars in proptest::collection::btree_map(any::<char>(), any::<i8>(), 0..5),
        float in any::<f64>(),
        float32 in any::<f32>(),
    ) {
        compare(&ints)?;
        compare(&uints)?;
        compare(&chars)?;
        compare(&Entries(vec![(float, 1)]))?;
        compare(&Entries(vec![(float32, 1)]))?;
    }
}

/// Every placement of each escaped byte (and of some that are not) in texts
/// of up to 48 bytes: every short form (up to 3, 4 to 7, 8 to 16, 17 to 32
/// bytes) and every place in a 16-byte block and in the tail after them.
#[test]
fn every_byte_is_escaped_as_serde_json_escapes_it_at_every_place() {
    let bytes = (0..0x80_u8).map(char::from).chain(['é', '😀']);
    for c in bytes {
        for len in 0..48 {
            for at in 0..=len {
                let mut s = "x".repeat(len);
                s.insert(at, c);
                assert_same(&s);
            }
        }
    }
}

#[test]
fn floats_that_are_not_finite_are_null() {
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_same(&f);
        assert_same(&(f as f32));
    }
    for f in EDGE_FLOATS {
        assert_same(&f);
        assert_same(&(f as f32));
    }
}

/// A byte slice serialized as bytes (a `&[u8]` on its own is a sequence).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// A map of any keys, without ordering or hashing them; length unknown to
/// the serializer, as in `collect_map`.
struct Entries<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Entries<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Text made by `Display`, as `collect_str` writes it.
struct Shown(&'static str);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // In pieces, so that escapes fall at the ends of pieces.
        for piece in self.0.split_inclusive('"') {
            f.write_str(piece)?;
        }
        Ok(())
    }
}

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A map with one entry, its key whatever `K` is.
struct KeyedBy<K>(K);

impl<K: Serialize> Serialize for KeyedBy<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(&self.0, &0)?;
        map.end()
    }
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    Unit,
    #[serde(rename = "re\"named")]
    Renamed,
    Newtype(String),
    Tuple(i8, Option<u8>),
    EmptyTuple(),
    Struct {
        a: Option<u16>,
        b: char,
    },
    EmptyStruct {},
}

#[derive(Serialize)]
struct UnitStruct;

#[derive(Serialize)]
struct Newtype(u32);

#[derive(Serialize)]
struct TupleStruct(bool, (), UnitStruct);

#[derive(Serialize)]
struct Everything {
    shapes: Vec<Shape>,
    newtype: Newtype,
    tuple: TupleStruct,
    empty: Vec<u8>,
    empty_map: BTreeMap<String, u8>,
    unknown_len: Entries<&'static str, i32>,
    empty_unknown_len: Entries<&'static str, i32>,
    shown: Shown,
    #[serde(rename = "key\twith\\escapes")]
    skipped: Option<()>,
    flattened_key: BTreeMap<Shape, u8>,
    newtype_keys: BTreeMap<Key, u8>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Key(String);

#[test]
fn structs_and_enums_are_written_as_serde_json_writes_them() {
    let everything = Everything {
        shapes: vec![
            Shape::Unit,
            Shape::Renamed,
            Shape::Newtype("n\n".into()),
            Shape::Tuple(-1, None),
            Shape::EmptyTuple(),
            Shape::Struct { a: Some(7), b: '"' },
            Shape::EmptyStruct {},
        ],
        newtype: Newtype(3),
        tuple: TupleStruct(true, (), UnitStruct),
        empty: vec![],
        empty_map: BTreeMap::new(),
        unknown_len: Entries(vec![("a", 1), ("b", -2)]),
        empty_unknown_len: Entries(vec![]),
        shown: Shown(r#"say "hi"\ there"#),
        skipped: None,
        flattened_key: [(Shape::Unit, 1), (Shape::Renamed, 2)].into(),
        newtype_keys: [(Key("k\u{1}".into()), 1)].into(),
    };
    assert_same(&everything);
    assert_same(&Some(Shape::Unit));
    assert_same(&Shown(""));
}

#[test]
fn keys_are_refused_where_serde_json_refuses_them() {
    assert_same(&KeyedBy(true));
    assert_same(&KeyedBy('"'));
    assert_same(&KeyedBy(Some(1)));
    assert_same(&KeyedBy(Shown("shown\n")));
    // Refused, with the same message.
    assert_same(&KeyedBy(f64::NAN));
    assert_same(&KeyedBy(f32::INFINITY));
    assert_same(&KeyedBy(None::<u8>));
    assert_same(&KeyedBy(()));
    assert_same(&KeyedBy(UnitStruct));
    assert_same(&KeyedBy(vec![1]));
    assert_same(&KeyedBy((1, 2)));
    assert_same(&KeyedBy(Bytes(b"b")));
    assert_same(&KeyedBy(Shape::Newtype("n".into())));
    assert_same(&KeyedBy(Shape::Tuple(1, None)));
    assert_same(&KeyedBy(Shape::Struct { a: None, b: 'b' }));
    assert_same(&KeyedBy(KeyedBy(1)));
    assert_same(&KeyedBy(Newtype(1)));
    assert!(to_vec(&KeyedBy(f64::NAN)).is_err());
}

/// The writer must write a `RawValue`'s text as it stands, as serde_json
/// does, knowing it by a name serde_json could change: if it did, ours would
/// write an object here, and this would fail.
#[test]
fn raw_values_are_written_verbatim() {
    let raw = RawValue::from_string(r#"{"a" : [1, "\u0041"], "b":null}"#.into()).unwrap();
    assert_same(&raw);
    assert_eq!(to_vec(&raw).unwrap(), raw.get().as_bytes());
    assert_same(&json!({"before": 1}));
    assert_same(&vec![Some(raw.clone()), None]);
    assert_same(&Entries(vec![("event", raw)]));
}

#[test]
fn other_serialize_errors_pass_through() {
    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }
    assert_same(&vec![Failing]);
    let err = to_vec(&vec![Failing]).unwrap_err();
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidData
    );
}

#[test]
fn append_adds_to_what_is_there() {
    let mut out = b"[".to_vec();
    append(&mut out, &1).unwrap();
    assert_eq!(out, b"[1");
    assert!(to_vec(&KeyedBy(())).is_err());
}

#[test]
fn an_error_is_one_pointer_wide() {
    assert_eq!(
        std::mem::size_of::<Result<(), Error>>(),
        std::mem::size_of::<usize>()
    );
}
