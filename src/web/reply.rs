//! Replies: status, content type, body and headers, turned into tiny_http responses in
//! one place. Every reply carries `nosniff`, `no-referrer` and `no-store`; the UI page
//! also carries the Content-Security-Policy and frame protection.

use std::io::Cursor;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde::Serialize;
use tiny_http::{Header, Response};

use crate::web::error::Error;

/// A reply body; shared bodies (the inventory, assets) are sent without copying.
#[derive(Debug, Clone)]
pub enum Body {
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Static(b) => b,
            Body::Shared(b) => b,
            Body::Owned(b) => b,
        }
    }
}

/// What the router decided.
pub enum Routed {
    Reply(Reply),
    /// Upgrade to a WebSocket following this task.
    WebSocket(String),
    /// Stream events over this transport, after this seq (`web::events`).
    Events(Transport, Option<u64>),
    /// Park the request until its task ends (`web::waits`).
    Wait(WaitRequest),
}

/// Which transport an events client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
}

/// What a wait request asks: the task and how long at most.
pub struct WaitRequest {
    pub id: String,
    pub timeout: Duration,
}

impl From<Reply> for Routed {
    fn from(reply: Reply) -> Routed {
        Routed::Reply(reply)
    }
}

/// What a handler answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
    /// The UI page and its assets get the browser-facing security headers.
    pub page: bool,
    /// A `Location` header (for 202 task replies).
    pub location: Option<String>,
    /// `X-Refreshing: true`: the list is the cached one, a refresh is still running.
    pub refreshing: bool,
    /// One more source the page may connect to, beside its own origin (the console
    /// page's WebSocket listener).
    pub connect_src: Option<String>,
}

const JSON: &str = "application/json";

impl Reply {
    /// A JSON reply from a serializable value.
    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        Reply::json_bytes(
            status,
            Body::Owned(serde_json::to_vec(value).expect("replies always serialize")),
        )
    }

    /// A JSON reply from already serialized bytes.
    pub fn json_bytes(status: u16, body: Body) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body,
            page: false,
            location: None,
            refreshing: false,
            connect_src: None,
        }
    }

    /// A 202 for a freshly queued task, pointing at it.
    pub fn task_accepted(task: &crate::core::tasks::Task) -> Reply {
        Reply {
            location: Some(format!("/api/tasks/{}", task.id)),
            ..Reply::json(202, task)
        }
    }

    /// A page or asset of the UI.
    pub fn page(content_type: &'static str, body: Body) -> Reply {
        Reply {
            status: 200,
            content_type,
            body,
            page: true,
            location: None,
            refreshing: false,
            connect_src: None,
        }
    }

    /// The reply for an error.
    pub fn error(error: &Error) -> Reply {
        Reply::json(error.status(), &error.body())
    }

    /// Turns the reply into a tiny_http response with the right headers.
    pub fn into_response(self) -> Response<Cursor<Body>> {
        let len = self.body.as_ref().len();
        let mut headers = Vec::with_capacity(8);
        headers.push(content_type_header(self.content_type));
        headers.extend(COMMON_HEADERS.iter().cloned());
        if self.page {
            match &self.connect_src {
                None => headers.extend(PAGE_HEADERS.iter().cloned()),
                Some(source) => {
                    let policy = CONTENT_SECURITY_POLICY.replace(
                        "connect-src 'self'",
                        &format!("connect-src 'self' {source}"),
                    );
                    headers.push(header("Content-Security-Policy", &policy));
                    // The rest of the page headers; the policy is the first of them.
                    headers.extend(PAGE_HEADERS.iter().skip(1).cloned());
                }
            }
        }
        if let Some(location) = self.location
            && let Ok(h) = Header::from_bytes("Location", location)
        {
            headers.push(h);
        }
        if self.refreshing {
            headers.push(Header::from_bytes("X-Refreshing", "true").expect("a valid header"));
        }
        // A fixed Content-Length even for large bodies: tiny_http would chunk bodies of
        // 32 KiB and more (DESIGN.md fact 6), which costs more for nothing.
        Response::new(
            self.status.into(),
            headers,
            Cursor::new(self.body),
            Some(len),
            None,
        )
        .with_chunked_threshold(usize::MAX)
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("static headers are valid")
}

fn content_type_header(content_type: &'static str) -> Header {
    static JSON_HEADER: LazyLock<Header> = LazyLock::new(|| header("Content-Type", JSON));
    if content_type == JSON {
        JSON_HEADER.clone()
    } else {
        header("Content-Type", content_type)
    }
}

/// Headers on every reply.
static COMMON_HEADERS: LazyLock<[Header; 3]> = LazyLock::new(|| {
    [
        header("X-Content-Type-Options", "nosniff"),
        header("Referrer-Policy", "no-referrer"),
        // The UI page carries the token and API replies carry user data: never cache.
        header("Cache-Control", "no-store"),
    ]
});

/// The Content-Security-Policy of the UI: no inline scripts or styles, nothing from
/// elsewhere, no framing (clickjacking), no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Headers on the UI page and its assets.
static PAGE_HEADERS: LazyLock<[Header; 3]> = LazyLock::new(|| {
    [
        header("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        header("X-Frame-Options", "DENY"),
        header("Cross-Origin-Opener-Policy", "same-origin"),
    ]
});
