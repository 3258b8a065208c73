//! `POST /api/vms/{name}/start` with its optional body (api-next.md §3):
//! `{"display"?: "screen-sharing"|"vnc"|"none", "suspendable"?, "recovery"?,
//!   "dirs"?: [{"name", "path", "read_only"?}], "network"?: "nat"|"bridged:<if>"|"softnet"}`.
//!
//! The body is checked field by field (422 in FastAPI's list shape, nothing started);
//! the refusal "already running" is made from a fresh look, never from the cache alone.
//! Unknown fields are ignored, as FastAPI does.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::backend::host::{Display, Network, SharedDir, StartOptions};
use crate::core::ops::start::Start;
use crate::web::error::Error;
use crate::web::reply::Reply;
use crate::web::state::Web;

/// Most `--dir` shares one start may ask for (16): tart has no limit, a form does.
const MAX_SHARED_DIRS: usize = 16;

pub fn start(app: &Arc<Web>, name: &str, body: Option<Value>) -> Result<Reply, Error> {
    let image = |app: &Web| {
        app.core
            .inventory
            .vm(name)
            .is_some_and(|vm| vm.source.as_deref() == Some("oci"))
    };
    if let Err(e) = super::handlers::path_name(name) {
        // An image reference is no VM name, but saying why helps more than a 404.
        return Err(if image(app) {
            Error::BadRequest(format!(
                "{name:?} is an OCI image; clone it to a local VM to run it"
            ))
        } else {
            e
        });
    }
    let options = start_options(body)?;
    super::handlers::accepted(
        app,
        Start {
            name: name.to_string(),
            options,
        },
    )
}

/// The start body as options; an absent or `null` body is `{}`.
fn start_options(body: Option<Value>) -> Result<StartOptions, Error> {
    let fields = match body {
        None | Some(Value::Null) => return Ok(StartOptions::default()),
        Some(Value::Object(fields)) => fields,
        Some(other) => {
            return Err(Error::Validation(vec![crate::web::error::FieldError {
                kind: "model_attributes_type",
                loc: vec!["body".into()],
                msg: "Input should be a valid dictionary or object to extract fields from".into(),
                input: other,
            }]));
        }
    };
    Ok(StartOptions {
        display: display(&fields)?,
        suspendable: flag(&fields, "suspendable")?,
        recovery: flag(&fields, "recovery")?,
        dirs: dirs(&fields)?,
        network: network(&fields)?,
    })
}

fn display(fields: &Map<String, Value>) -> Result<Option<Display>, Error> {
    match fields.get("display") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(word)) if Display::parse(word).is_some() => Ok(Display::parse(word)),
        Some(other) => Err(Error::invalid_field(
            "enum",
            "display",
            "Input should be 'screen-sharing', 'vnc' or 'none'",
            other.clone(),
        )),
    }
}

fn flag(fields: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::invalid_field(
            "bool_type",
            key,
            "Input should be a valid boolean",
            other.clone(),
        )),
    }
}

fn network(fields: &Map<String, Value>) -> Result<Network, Error> {
    let bad = |input: &Value| {
        Error::invalid_field(
            "value_error",
            "network",
            "Input should be 'nat', 'softnet' or 'bridged:<interface>'",
            input.clone(),
        )
    };
    match fields.get("network") {
        None | Some(Value::Null) => Ok(Network::Nat),
        Some(Value::String(word)) => match word.as_str() {
            "nat" => Ok(Network::Nat),
            "softnet" => Ok(Network::Softnet),
            other => match other.strip_prefix("bridged:") {
                Some(interface)
                    if !interface.is_empty()
                        && interface.len() <= 64
                        && !interface.chars().any(char::is_control) =>
                {
                    Ok(Network::Bridged(interface.to_string()))
                }
                _ => Err(bad(&Value::String(word.clone()))),
            },
        },
        Some(other) => Err(bad(other)),
    }
}

/// `dirs`: each share has a tag-like name and an absolute path of an existing directory;
/// neither may hold `:` (tart splits `--dir name:path:options` on it).
fn dirs(fields: &Map<String, Value>) -> Result<Vec<SharedDir>, Error> {
    let items = match fields.get("dirs") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_SHARED_DIRS => items,
        Some(other) => {
            return Err(Error::invalid_field(
                "list_type",
                "dirs",
                format!("Input should be a list of at most {MAX_SHARED_DIRS} shares"),
                other.clone(),
            ));
        }
    };
    let mut shares = Vec::new();
    for item in items {
        let bad = |msg: &str| Error::invalid_field("value_error", "dirs", msg, item.clone());
        let text = |key: &str| item.get(key).and_then(Value::as_str);
        let (Some(name), Some(path)) = (text("name"), text("path")) else {
            return Err(bad("Each share needs a \"name\" and a \"path\" string"));
        };
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !name_ok {
            return Err(bad(
                "A share's name is 1 to 64 ASCII letters, digits, '.', '_' or '-'",
            ));
        }
        let dir = std::path::Path::new(path);
        if !dir.is_absolute() || path.contains(':') || path.chars().any(char::is_control) {
            return Err(bad(
                "A share's path is absolute, without ':' or control characters",
            ));
        }
        if !dir.is_dir() {
            return Err(bad("A share's path must be an existing directory"));
        }
        let read_only = match item.get("read_only") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("\"read_only\" should be a valid boolean")),
        };
        shares.push(SharedDir {
            name: name.to_string(),
            path: path.to_string(),
            read_only,
        });
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_body_and_an_empty_body_are_the_defaults() {
        assert_eq!(start_options(None).unwrap(), StartOptions::default());
        assert_eq!(
            start_options(Some(json!({}))).unwrap(),
            StartOptions::default()
        );
    }

    #[test]
    fn every_field_is_read() {
        let tmp = std::env::temp_dir();
        let options = start_options(Some(json!({
            "display": "none", "suspendable": true, "recovery": true,
            "network": "bridged:Wi-Fi",
            "dirs": [{"name": "tmp", "path": tmp.to_str().unwrap(), "read_only": true}],
        })))
        .unwrap();
        assert_eq!(options.display, Some(Display::None));
        assert!(options.suspendable && options.recovery);
        assert_eq!(options.network, Network::Bridged("Wi-Fi".into()));
        assert_eq!(options.dirs.len(), 1);
        assert!(options.dirs[0].read_only);
    }

    #[test]
    fn bad_fields_are_refused() {
        for body in [
            json!({"display": "x11"}),
            json!({"display": 1}),
            json!({"suspendable": "yes"}),
            json!({"network": "bridged:"}),
            json!({"network": "host"}),
            json!({"dirs": [{"name": "a", "path": "relative"}]}),
            json!({"dirs": [{"name": "a:b", "path": "/"}]}),
            json!({"dirs": [{"name": "a", "path": "/no/such/dir/anywhere"}]}),
            json!({"dirs": "/"}),
            json!([]),
        ] {
            assert!(start_options(Some(body.clone())).is_err(), "{body}");
        }
    }
}
