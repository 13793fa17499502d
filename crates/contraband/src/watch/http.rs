//! A small HTTP/1.1 client over a Unix socket, for the handful of Docker
//! Engine API endpoints `watch` needs (`/events`, `/containers/json`,
//! `/containers/{id}/json`, `/containers/{id}/stats`). Requests are GETs
//! without a body; responses are read with `Content-Length`, chunked
//! transfer encoding, or until the daemon closes the connection. A full
//! client library (and an async runtime) would buy nothing here.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest response body or stream line accepted (an event, an inspect).
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest status line or header line.
const MAX_HEAD_LINE: usize = 64 * 1024;

/// A daemon's API socket, from `unix:///path` or a bare path.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// As the user gave it, for messages and event origins.
    pub url: String,
    pub path: PathBuf,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let path = if let Some(p) = url.strip_prefix("unix://") {
            p
        } else if url.starts_with('/') {
            url
        } else {
            return Err(format!(
                "{url:?}: only local Unix sockets are supported (unix:///path/to/socket)"
            ));
        };
        if path.is_empty() {
            return Err(format!("{url:?}: no socket path"));
        }
        Ok(Endpoint {
            url: if url.starts_with('/') {
                format!("unix://{url}")
            } else {
                url.to_string()
            },
            path: PathBuf::from(path),
        })
    }
}

/// Why a request failed, sorted by what the caller should do about it.
#[derive(Debug)]
pub enum HttpError {
    /// The socket cannot be opened for lack of permission: retrying won't help.
    PermissionDenied(PathBuf),
    /// Connecting, writing or reading failed (daemon down, restarting...).
    Io(io::Error),
    /// The daemon answered with an error status.
    Status(u16, String),
    /// The daemon's answer is not HTTP as expected.
    Protocol(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::PermissionDenied(p) => write!(
                f,
                "permission denied on {}: run contraband as root, or add its user to the group \
                 that owns the socket (`docker` for dockerd), or give the path of a socket it may use",
                p.display()
            ),
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::Status(code, body) => write!(f, "HTTP {code}: {}", body.trim()),
            HttpError::Protocol(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> HttpError {
        HttpError::Io(e)
    }
}

fn connect(path: &Path, timeout: Option<Duration>) -> Result<UnixStream, HttpError> {
    let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => HttpError::PermissionDenied(path.to_path_buf()),
        _ => HttpError::Io(e),
    })?;
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Send `GET target` and read the status and headers; the reader is left at
/// the start of the body.
fn request(
    endpoint: &Endpoint,
    target: &str,
    timeout: Option<Duration>,
    keep_open: bool,
) -> Result<(Head, BufReader<UnixStream>), HttpError> {
    let mut stream = connect(&endpoint.path, timeout)?;
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: contraband\r\nAccept: application/json\r\n{}\r\n",
        if keep_open { "" } else { "Connection: close\r\n" }
    );
    stream.write_all(req.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    Ok((head, reader))
}

#[derive(Debug)]
struct Head {
    status: u16,
    chunked: bool,
    length: Option<usize>,
}

fn read_line(r: &mut impl BufRead, max: usize) -> Result<String, HttpError> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(HttpError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        )));
    }
    if buf.len() > max {
        return Err(HttpError::Protocol("header line too long".into()));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn read_head(r: &mut impl BufRead) -> Result<Head, HttpError> {
    let status_line = read_line(r, MAX_HEAD_LINE)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Protocol(format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Protocol(format!("status line {status_line:?}")))?;
    let mut head = Head {
        status,
        chunked: false,
        length: None,
    };
    for _ in 0..256 {
        let line = read_line(r, MAX_HEAD_LINE)?;
        if line.is_empty() {
            return Ok(head);
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            head.length = value.parse().ok();
        }
    }
    Err(HttpError::Protocol("too many headers".into()))
}

/// The body of a response as a plain byte stream.
fn body(head: &Head, reader: BufReader<UnixStream>) -> Box<dyn BufRead + Send> {
    if head.chunked {
        Box::new(BufReader::new(Chunked::new(reader)))
    } else if let Some(n) = head.length {
        Box::new(reader.take(n as u64))
    } else {
        Box::new(reader)
    }
}

/// `GET target`, whole body; an error status is an error.
pub fn get(endpoint: &Endpoint, target: &str, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    let (head, reader) = request(endpoint, target, Some(timeout), false)?;
    if head.length.is_some_and(|n| n > MAX_BODY) {
        return Err(HttpError::Protocol("response too large".into()));
    }
    let mut out = Vec::new();
    body(&head, reader)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > MAX_BODY {
        return Err(HttpError::Protocol("response too large".into()));
    }
    if !(200..300).contains(&head.status) {
        let text = String::from_utf8_lossy(&out);
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(HttpError::Status(head.status, message));
    }
    Ok(out)
}

/// `GET target` and parse the body as JSON.
pub fn get_json(
    endpoint: &Endpoint,
    target: &str,
    timeout: Duration,
) -> Result<serde_json::Value, HttpError> {
    let body = get(endpoint, target, timeout)?;
    serde_json::from_slice(&body).map_err(|e| HttpError::Protocol(format!("not JSON: {e}")))
}

/// A streaming response read line by line (`/events`).
pub struct LineStream {
    body: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
}

impl LineStream {
    /// `GET target` and keep reading: no read timeout, the stream lives as
    /// long as the daemon keeps it open.
    pub fn open(endpoint: &Endpoint, target: &str) -> Result<LineStream, HttpError> {
        let (head, reader) = request(endpoint, target, Some(Duration::from_secs(30)), true)?;
        if !(200..300).contains(&head.status) {
            let mut text = Vec::new();
            let _ = body(&head, reader).take(4096).read_to_end(&mut text);
            return Err(HttpError::Status(
                head.status,
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
        // headers are in: from now on idle is normal
        reader.get_ref().set_read_timeout(None)?;
        Ok(LineStream {
            body: body(&head, reader),
            buf: Vec::new(),
        })
    }

    /// The next non-empty line, `None` at the end of the stream. A line
    /// longer than [`MAX_BODY`] is an error (the stream cannot be trusted).
    pub fn next_line(&mut self) -> Result<Option<String>, HttpError> {
        loop {
            self.buf.clear();
            let n = self
                .body
                .by_ref()
                .take(MAX_BODY as u64 + 1)
                .read_until(b'\n', &mut self.buf)?;
            if n == 0 {
                return Ok(None);
            }
            if self.buf.len() > MAX_BODY {
                return Err(HttpError::Protocol("event line too long".into()));
            }
            let text = String::from_utf8_lossy(&self.buf);
            let text = text.trim();
            if !text.is_empty() {
                return Ok(Some(text.to_string()));
            }
        }
    }
}

/// Decodes `Transfer-Encoding: chunked`.
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Chunked<R> {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }

    fn bad(m: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad chunked encoding: {m}"),
        )
    }

    fn size_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.inner
            .by_ref()
            .take(1024)
            .read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        if line.last() != Some(&b'\n') {
            return Err(Self::bad("size line"));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = self.size_line()?;
            if line.is_empty() {
                // the CRLF that ends the previous chunk
                line = self.size_line()?;
            }
            let hex = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(hex, 16).map_err(|_| Self::bad("size"))?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let want = out.len().min(self.left);
        let n = self.inner.read(&mut out[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n world\n\r\n0\r\n\r\n";
        let mut out = String::new();
        Chunked::new(&wire[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world\n");
        let truncated = b"a\r\nabc";
        let mut out = Vec::new();
        assert!(Chunked::new(&truncated[..]).read_to_end(&mut out).is_err());
    }

    #[test]
    fn heads_parse() {
        let mut r = &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\nbody"[..];
        let head = read_head(&mut r).unwrap();
        assert_eq!((head.status, head.chunked, head.length), (200, true, None));
        let mut r = &b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\n"[..];
        let head = read_head(&mut r).unwrap();
        assert_eq!((head.status, head.length), (404, Some(3)));
        assert!(read_head(&mut &b"SSH-2.0-x\r\n"[..]).is_err());
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("unix:///var/run/docker.sock").unwrap();
        assert_eq!(e.path, PathBuf::from("/var/run/docker.sock"));
        assert_eq!(
            Endpoint::parse("/run/podman/podman.sock").unwrap().url,
            "unix:///run/podman/podman.sock"
        );
        assert!(Endpoint::parse("tcp://127.0.0.1:2375").is_err());
    }
}
