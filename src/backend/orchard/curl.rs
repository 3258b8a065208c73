//! TLS controllers through `curl` as a child process, as `tart` is run: the design card
//! has no TLS library, and curl is on every Mac. Orchard's controller serves a
//! self-signed certificate whose only name is `orchard-controller`; given that
//! certificate (`--orchard-cert`), curl trusts it alone (`--cacert`) and verifies the
//! name `orchard-controller` while connecting to the URL's host (`--connect-to`), as
//! Orchard's own client does. Without it, curl uses the system's roots.
//!
//! Secrets never reach argv (where `ps` shows them): the URL, the credentials and the
//! body go to curl on stdin as a config file (`--config -`). Each call is one child,
//! waited on; its timeouts are curl's (`--connect-timeout`, `--max-time`).
//!
//! Blocking, on the caller's thread; stderr is read after exit (it is a line or two).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use super::endpoint::{CERT_HOST, Endpoint, Transport};
use super::error::OrchardError;
use super::http::{
    CALL_TIMEOUT, CONNECT_TIMEOUT, HttpReply, MAX_RESPONSE_BYTES, USER_AGENT, read_head,
};

/// The curl program (found on `PATH`).
pub const CURL: &str = "curl";

/// One curl config-file string, quoted: `\` and `"` escaped, control characters as escapes.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The config file for one request.
pub fn config(ep: &Endpoint, method: &str, route: &str, body: Option<&[u8]>) -> String {
    let cert = match &ep.transport {
        Transport::Curl { cert } => cert.clone(),
        Transport::Plain => None,
    };
    let host = if cert.is_some() {
        CERT_HOST
    } else {
        ep.host.as_str()
    };
    let mut c = vec![
        format!(
            "url = {}",
            quoted(&format!(
                "{}://{host}:{}{}",
                ep.scheme,
                ep.port,
                ep.path(route)
            ))
        ),
        format!("request = {}", quoted(method)),
        format!("header = {}", quoted(&format!("User-Agent: {USER_AGENT}"))),
        format!("header = {}", quoted("Accept: application/json")),
        // No `Expect: 100-continue` round trip for a body.
        format!("header = {}", quoted("Expect:")),
    ];
    if let (Some(a), Some(t)) = (&ep.account, &ep.token) {
        c.push(format!("user = {}", quoted(&format!("{a}:{t}"))));
    }
    if let Some(cert) = cert {
        c.push(format!("cacert = {}", quoted(&cert.display().to_string())));
        c.push(format!(
            "connect-to = {}",
            quoted(&format!("{CERT_HOST}:{}:{}:{}", ep.port, ep.host, ep.port))
        ));
    }
    if let Some(b) = body {
        c.push(format!(
            "header = {}",
            quoted("Content-Type: application/json")
        ));
        c.push(format!(
            "data-binary = {}",
            quoted(&String::from_utf8_lossy(b))
        ));
    }
    c.push(String::new());
    c.join("\n")
}

/// Starts curl for one request; its stdout carries the response head and the decoded body.
fn spawn(
    ep: &Endpoint,
    method: &str,
    route: &str,
    body: Option<&[u8]>,
    max_time: Duration,
) -> Result<Child, OrchardError> {
    let mut child = Command::new(CURL)
        .args([
            "--silent",
            "--show-error",
            "--include",
            "--no-buffer",
            "--http1.1",
        ])
        .arg("--connect-timeout")
        .arg(CONNECT_TIMEOUT.as_secs().to_string())
        .arg("--max-time")
        .arg(max_time.as_secs().to_string())
        .args(["--config", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| OrchardError::Unreachable(format!("cannot run {CURL} for TLS: {e}")))?;
    let cfg = config(ep, method, route, body);
    let mut stdin = child.stdin.take().expect("piped");
    // The config is small; curl reads all of it before it connects.
    let written = stdin.write_all(cfg.as_bytes());
    drop(stdin);
    if let Err(e) = written {
        let _ = child.kill();
        let _ = child.wait();
        return Err(OrchardError::Unreachable(format!(
            "cannot talk to {CURL}: {e}"
        )));
    }
    Ok(child)
}

/// curl's own complaint, for an error: the last line of stderr.
fn failure(child: &mut Child) -> OrchardError {
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.by_ref().take(16 << 10).read_to_string(&mut err);
    }
    let status = child.wait().ok();
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    OrchardError::Unreachable(match (last.is_empty(), status.and_then(|s| s.code())) {
        (false, _) => last.to_string(),
        (true, Some(code)) => format!("{CURL} exited with status {code}"),
        (true, None) => format!("{CURL} was killed"),
    })
}

/// One call through curl.
pub fn exchange(
    ep: &Endpoint,
    method: &str,
    route: &str,
    body: Option<&[u8]>,
) -> Result<HttpReply, OrchardError> {
    let mut child = spawn(ep, method, route, body, CALL_TIMEOUT)?;
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let head = read_head(&mut out);
    let mut data = Vec::new();
    let read = out
        .by_ref()
        .take(MAX_RESPONSE_BYTES + 1)
        .read_to_end(&mut data);
    let (status, headers) = match head {
        Ok(h) => h,
        Err(_) => return Err(failure(&mut child)),
    };
    let _ = child.kill();
    let exit = child.wait();
    if read.is_err() || exit.map(|s| !s.success()).unwrap_or(true) {
        return Err(OrchardError::Unreachable(
            "the connection to the controller broke during the answer".into(),
        ));
    }
    if data.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(OrchardError::Protocol("the response is too large".into()));
    }
    Ok(HttpReply {
        status,
        headers,
        body: data,
    })
}

/// A streaming response (a watch): curl's stdout after the head, curl decoding the
/// chunks. Dropping it ends curl and waits for it.
pub struct CurlStream {
    child: Child,
    pub reader: BufReader<ChildStdout>,
}

impl Drop for CurlStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens a streaming GET; curl gives up after `max_time` (the caller reconnects).
pub fn open_stream(
    ep: &Endpoint,
    route: &str,
    max_time: Duration,
) -> Result<(u16, CurlStream), OrchardError> {
    let mut child = spawn(ep, "GET", route, None, max_time)?;
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    match read_head(&mut reader) {
        Ok((status, _)) => Ok((status, CurlStream { child, reader })),
        Err(_) => Err(failure(&mut child)),
    }
}

/// A `BufRead` view of the stream, for line reading.
impl CurlStream {
    pub fn lines(&mut self) -> &mut impl BufRead {
        &mut self.reader
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_pins_the_certificate_and_keeps_secrets_off_argv() {
        let ep = Endpoint::parse(
            "https://10.0.0.5:6120",
            Some("svc".into()),
            Some("to\"ken".into()),
            Some("/etc/orchard/ctl.pem".into()),
            false,
        )
        .unwrap();
        let c = config(&ep, "PUT", "/v1/vms/a", Some(br#"{"x":"a\b"}"#));
        assert!(
            c.contains("url = \"https://orchard-controller:6120/v1/vms/a\""),
            "{c}"
        );
        assert!(c.contains("connect-to = \"orchard-controller:6120:10.0.0.5:6120\""));
        assert!(c.contains("cacert = \"/etc/orchard/ctl.pem\""));
        assert!(c.contains("user = \"svc:to\\\"ken\""));
        assert!(c.contains(r#"data-binary = "{\"x\":\"a\\b\"}""#), "{c}");
    }
}
