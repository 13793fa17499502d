//! The Kubernetes audit webhook: kube-apiserver's `--audit-webhook-config-file`
//! backend POSTs `audit.k8s.io/v1` `EventList` bodies here.
//!
//! - Every request must carry `Authorization: Bearer <token>` (401 otherwise).
//! - Bodies above the size limit are refused with 413 without being read whole.
//! - Accepted batches wait in a bounded queue for the pipeline; when it is
//!   full the answer is 429 with `Retry-After`, which the apiserver's webhook
//!   backend retries with back-off, so a slow pipeline slows the sender
//!   instead of growing memory.
//! - It listens on loopback unless told otherwise: it speaks plain HTTP.
//!
//! tiny_http serves it: a small, synchronous, widely used server that fits
//! the rest of `watch` (threads and channels, no async runtime to bring in
//! for one endpoint).

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;

use contraband_event::Event;
use contraband_sources::{DecodeError, Decoder, Format, Options};
use tiny_http::{Header, Method, Request, Response, Server};

use super::{log, Msg};

/// One request's events and the items that could not be decoded.
type Batch = (Vec<Event>, Vec<DecodeError>);

pub struct WebhookConfig {
    pub addr: SocketAddr,
    pub token: String,
    pub max_body: usize,
    pub queue: usize,
    pub options: Options,
}

/// `127.0.0.1:9765`, `[::1]:9765`, `:9765` or `9765` (loopback).
pub fn parse_addr(text: &str, allow_remote: bool) -> Result<SocketAddr, String> {
    let t = text.trim();
    let port_only = t.strip_prefix(':').unwrap_or(t);
    let addr = if let Ok(port) = port_only.parse::<u16>() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        t.parse::<SocketAddr>().map_err(|_| {
            format!("--k8s-audit-webhook {text:?}: expected ADDRESS:PORT such as 127.0.0.1:9765")
        })?
    };
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "--k8s-audit-webhook {addr}: refusing to listen beyond loopback; the endpoint speaks \
             plain HTTP, so put a TLS-terminating proxy in front of it and pass \
             --k8s-audit-allow-remote if you really mean it"
        ));
    }
    Ok(addr)
}

/// The bearer token: from `--token-file`, else `CONTRABAND_TOKEN`.
pub fn load_token(file: Option<&std::path::Path>) -> Result<String, String> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?,
        None => std::env::var("CONTRABAND_TOKEN").map_err(|_| {
            "--k8s-audit-webhook needs a bearer token: give --token-file FILE or set \
             CONTRABAND_TOKEN (the same token goes in the apiserver's webhook kubeconfig)"
                .to_string()
        })?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err("the webhook bearer token is empty".into());
    }
    if token
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(
            "the webhook bearer token must be one word (no spaces or control characters)".into(),
        );
    }
    if token.len() < 16 {
        log(
            "k8s-audit",
            "warning: the bearer token is shorter than 16 characters; use a long random one",
        );
    }
    Ok(token)
}

/// Bind now (so a busy port is a startup error) and serve on worker threads.
pub fn start(config: WebhookConfig, tx: SyncSender<Msg>) -> Result<SocketAddr, String> {
    let server =
        Server::http(config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = server.server_addr().to_ip().unwrap_or(config.addr);
    let server = Arc::new(server);
    // the bounded queue between the HTTP workers and the pipeline
    let (qtx, qrx) = mpsc::sync_channel::<Batch>(config.queue.max(1));
    std::thread::spawn(move || {
        for (events, errors) in qrx {
            // rejected items are counted (and shown, rate-limited) like any decode error
            let msgs =
                std::iter::once(Msg::Batch(events)).chain(errors.into_iter().map(Msg::DecodeError));
            for msg in msgs {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    let config = Arc::new(config);
    for _ in 0..2 {
        let server = Arc::clone(&server);
        let config = Arc::clone(&config);
        let qtx = qtx.clone();
        std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                handle(request, &config, &qtx, addr);
            }
        });
    }
    log(
        "k8s-audit",
        &format!("webhook listening on http://{addr}/ (bearer token required)"),
    );
    Ok(addr)
}

fn respond(request: Request, code: u16, message: &str) {
    let body = serde_json::json!({"code": code, "message": message}).to_string();
    let mut response = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        response.add_header(h);
    }
    if code == 429 || code == 503 {
        if let Ok(h) = Header::from_bytes(&b"Retry-After"[..], &b"1"[..]) {
            response.add_header(h);
        }
    }
    if code == 401 {
        if let Ok(h) = Header::from_bytes(&b"WWW-Authenticate"[..], &b"Bearer"[..]) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
}

/// Compare without leaking where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

fn authorized(request: &Request, token: &str) -> bool {
    request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Authorization"))
        .any(|h| {
            let v = h.value.as_str().trim();
            match v.split_once(' ') {
                Some((scheme, given)) if scheme.eq_ignore_ascii_case("bearer") => {
                    same(given.trim().as_bytes(), token.as_bytes())
                }
                _ => false,
            }
        })
}

fn handle(
    mut request: Request,
    config: &WebhookConfig,
    queue: &SyncSender<Batch>,
    addr: SocketAddr,
) {
    let path = request.url().split('?').next().unwrap_or("/").to_string();
    if *request.method() == Method::Get && path == "/healthz" {
        return respond(request, 200, "ok");
    }
    if path != "/" && path != "/k8s-audit" {
        return respond(request, 404, "POST audit events to / or /k8s-audit");
    }
    if *request.method() != Method::Post {
        return respond(request, 405, "POST an audit.k8s.io EventList");
    }
    if !authorized(&request, &config.token) {
        return respond(request, 401, "missing or wrong bearer token");
    }
    if request.body_length().is_some_and(|n| n > config.max_body) {
        return respond(
            request,
            413,
            &format!("body larger than {} bytes", config.max_body),
        );
    }
    let mut body = Vec::new();
    if let Err(e) = request
        .as_reader()
        .take(config.max_body as u64 + 1)
        .read_to_end(&mut body)
    {
        return respond(request, 400, &format!("cannot read the body: {e}"));
    }
    if body.len() > config.max_body {
        return respond(
            request,
            413,
            &format!("body larger than {} bytes", config.max_body),
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return respond(request, 400, "the body is not UTF-8");
    };
    let mut decoder = Decoder::new(
        Format::K8sAudit,
        &format!("k8s-audit-webhook:{addr}"),
        &config.options,
    );
    // An EventList's items are decoded one by one, so one malformed item
    // costs itself only: the decoder fans a JSON array out item by item.
    let items = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut list))
            if list.get("kind").and_then(|k| k.as_str()) == Some("EventList") =>
        {
            match list.remove("items") {
                Some(items @ serde_json::Value::Array(_)) => Some(items.to_string()),
                _ => return respond(request, 400, "EventList without an items array"),
            }
        }
        Ok(_) => None,
        Err(e) => return respond(request, 400, &format!("the body is not JSON: {e}")),
    };
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in decoder.feed(items.as_deref().unwrap_or(text), None, None) {
        match item {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e),
        }
    }
    let reasons = || {
        let texts: Vec<String> = errors.iter().take(10).map(|e| e.to_string()).collect();
        texts.join("; ")
    };
    if events.is_empty() && !errors.is_empty() {
        return respond(request, 400, &reasons());
    }
    let n = events.len();
    let message = match errors.len() {
        0 => format!("accepted {n} events"),
        bad => format!("accepted {n} events, rejected {bad}: {}", reasons()),
    };
    match queue.try_send((events, errors)) {
        Ok(()) => respond(request, 200, &message),
        Err(TrySendError::Full(_)) => respond(request, 429, "queue full, retry later"),
        Err(TrySendError::Disconnected(_)) => respond(request, 503, "shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("9765", false).unwrap(),
            "127.0.0.1:9765".parse().unwrap()
        );
        assert_eq!(
            parse_addr(":9765", false).unwrap(),
            "127.0.0.1:9765".parse().unwrap()
        );
        assert!(parse_addr("[::1]:9765", false).is_ok());
        assert!(parse_addr("0.0.0.0:9765", false).is_err());
        assert!(parse_addr("0.0.0.0:9765", true).is_ok());
        assert!(parse_addr("nonsense", false).is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(same(b"secret-token", b"secret-token"));
        assert!(!same(b"secret-token", b"secret-tokem"));
        assert!(!same(b"secret", b"secret-token"));
        assert!(!same(b"", b"x"));
    }
}
