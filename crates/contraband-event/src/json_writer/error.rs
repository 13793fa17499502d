//! Why a value could not be written.

use std::fmt;
use std::io;

/// Why a value could not be written: the output failed, or the value cannot
/// be written as JSON (a map key that is not a string, a number, a boolean or
/// a char; a float key that is not finite; or an error of the value's own
/// `Serialize` implementation). serde_json refuses the same values.
///
/// One pointer wide, as serde_json's error is: every serializer method
/// returns a `Result<(), Error>`, and an alert is written in hundreds of
/// such calls, each then returned in a register rather than through memory.
#[derive(Debug)]
pub struct Error(Box<Kind>);

#[derive(Debug)]
enum Kind {
    Io(io::Error),
    Data(String),
}

impl Error {
    pub(super) fn io(err: io::Error) -> Error {
        Error(Box::new(Kind::Io(err)))
    }

    pub(super) fn data(msg: impl Into<String>) -> Error {
        Error(Box::new(Kind::Data(msg.into())))
    }

    /// Whether the output failed, rather than the value.
    pub fn is_io(&self) -> bool {
        matches!(*self.0, Kind::Io(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::Io(err) => err.fmt(f),
            Kind::Data(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            Kind::Io(err) => Some(err),
            Kind::Data(_) => None,
        }
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::data(msg.to_string())
    }
}

/// As serde_json converts its errors: an I/O error as it was, anything else
/// as invalid data.
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match *err.0 {
            Kind::Io(err) => err,
            Kind::Data(msg) => io::Error::new(io::ErrorKind::InvalidData, msg),
        }
    }
}
