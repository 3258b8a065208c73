//! `OrchardClient`: the controller calls the server makes, typed: list/get/create/delete
//! VMs, the one-way power-state change (GET, edit, PUT of the whole VM, as Orchard
//! requires), events, workers, and controller info. Each call picks the transport of
//! its endpoint (plain HTTP or curl) and maps a non-200 answer to an `OrchardError`.
//!
//! Blocking; callable from any thread (it holds no state but the endpoint).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::curl;
use super::endpoint::{Endpoint, Transport};
use super::error::{OrchardError, from_status};
use super::http::{self, HttpReply};
use super::model::{OrchardVm, OrchardWorker};

/// Events fetched per page when reading a VM's log.
pub const EVENTS_PAGE: usize = 500;

/// Pages of events read at most for one VM (so a chatty script cannot keep a task busy).
pub const MAX_EVENT_PAGES: usize = 20;

/// A client for one controller; cheap to clone.
#[derive(Clone, Debug)]
pub struct OrchardClient {
    pub endpoint: Arc<Endpoint>,
}

/// Percent-encodes a path segment (Orchard names are plain, but a name from a user is not
/// trusted to be).
pub fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OrchardClient {
    pub fn new(endpoint: Endpoint) -> OrchardClient {
        OrchardClient {
            endpoint: Arc::new(endpoint),
        }
    }

    /// One raw call.
    pub fn call(
        &self,
        method: &str,
        route: &str,
        body: Option<&Value>,
    ) -> Result<HttpReply, OrchardError> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        match self.endpoint.transport {
            Transport::Plain => http::exchange(&self.endpoint, method, route, bytes.as_deref()),
            Transport::Curl { .. } => {
                curl::exchange(&self.endpoint, method, route, bytes.as_deref())
            }
        }
    }

    /// A call that must answer 200; its body parsed as `T`.
    fn ok<T: DeserializeOwned>(
        &self,
        method: &str,
        route: &str,
        body: Option<&Value>,
    ) -> Result<T, OrchardError> {
        let reply = self.call(method, route, body)?;
        if reply.status != 200 {
            return Err(from_status(reply.status, &reply.body));
        }
        let body = if reply.body.is_empty() {
            &b"null"[..]
        } else {
            &reply.body[..]
        };
        serde_json::from_slice(body).map_err(|e| OrchardError::Protocol(format!("bad JSON: {e}")))
    }

    pub fn list_vms(&self) -> Result<Vec<OrchardVm>, OrchardError> {
        self.ok("GET", "/v1/vms", None)
    }

    pub fn get_vm(&self, name: &str) -> Result<OrchardVm, OrchardError> {
        self.ok("GET", &format!("/v1/vms/{}", segment(name)), None)
    }

    /// `POST /v1/vms` with a spec (the caller sets `headless: true`).
    pub fn create_vm(&self, spec: &Value) -> Result<OrchardVm, OrchardError> {
        self.ok("POST", "/v1/vms", Some(spec))
    }

    /// `DELETE /v1/vms/{name}`; a VM already gone counts as deleted.
    pub fn delete_vm(&self, name: &str) -> Result<(), OrchardError> {
        let reply = self.call("DELETE", &format!("/v1/vms/{}", segment(name)), None)?;
        match reply.status {
            200 | 404 => Ok(()),
            s => Err(from_status(s, &reply.body)),
        }
    }

    /// Sets the power state (`stopped` or `suspended`; Orchard never goes back): GET the
    /// whole VM, change `powerState`, PUT it back.
    pub fn set_power_state(&self, name: &str, state: &str) -> Result<OrchardVm, OrchardError> {
        let route = format!("/v1/vms/{}", segment(name));
        let mut whole: Value = self.ok("GET", &route, None)?;
        whole["powerState"] = Value::String(state.into());
        self.ok("PUT", &route, Some(&whole))
    }

    /// The VM's `log_line` payloads, oldest first (at most `MAX_EVENT_PAGES` pages).
    pub fn events(&self, name: &str) -> Result<Vec<String>, OrchardError> {
        let mut lines = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_EVENT_PAGES {
            let mut route = format!(
                "/v1/vms/{}/events?order=asc&limit={EVENTS_PAGE}",
                segment(name)
            );
            if let Some(c) = &cursor {
                route.push_str(&format!("&cursor={}", segment(c)));
            }
            let reply = self.call("GET", &route, None)?;
            if reply.status != 200 {
                return Err(from_status(reply.status, &reply.body));
            }
            let page: Vec<Value> = serde_json::from_slice(&reply.body)
                .map_err(|e| OrchardError::Protocol(format!("bad events JSON: {e}")))?;
            lines.extend(
                page.iter()
                    .filter_map(|e| e["payload"].as_str().map(str::to_string)),
            );
            match reply.header("X-Next-Cursor") {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => break,
            }
        }
        Ok(lines)
    }

    /// `GET /v1/vms/{name}/ip` without waiting: the VM's address on its worker's
    /// network; `None` while it does not run (408/417).
    pub fn ip(&self, name: &str) -> Result<Option<String>, OrchardError> {
        let reply = self.call("GET", &format!("/v1/vms/{}/ip?wait=0", segment(name)), None)?;
        match reply.status {
            200 => {
                let v: Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| OrchardError::Protocol(format!("bad IP JSON: {e}")))?;
                Ok(v["ip"].as_str().map(str::to_string))
            }
            408 | 417 => Ok(None),
            s => Err(from_status(s, &reply.body)),
        }
    }

    pub fn list_workers(&self) -> Result<Vec<OrchardWorker>, OrchardError> {
        self.ok("GET", "/v1/workers", None)
    }
}
