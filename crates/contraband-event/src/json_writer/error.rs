//! Why a value could not be written.

use std::fmt;
use std::io;

/// Why a value cannot be written as JSON: a map key that is not a string, a
/// number, a boolean or a char; a float key that is not finite; or an error
/// of the value's own `Serialize` implementation. serde_json refuses the
/// same values.
///
/// One pointer wide, as serde_json's error is: every serializer method
/// returns a `Result<(), Error>`, and an alert is written in hundreds of
/// such calls, each then returned in a register rather than through memory.
#[derive(Debug)]
pub struct Error(Box<Message>);

/// The message, boxed for the error's width (a `String` is three words).
#[derive(Debug)]
struct Message(String);

impl Error {
    pub(super) fn data(msg: impl Into<String>) -> Error {
        Error(Box::new(Message(msg.into())))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0 .0)
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::data(msg.to_string())
    }
}

/// As serde_json converts its data errors: invalid data.
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, err.0 .0)
    }
}
