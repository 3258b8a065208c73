//! The server's one error type, and its mapping to an HTTP status and a FastAPI-style
//! `{"detail": ...}` body. Handlers return `Result<Reply, Error>`; the mapping happens
//! only here.

use serde::Serialize;
use serde_json::{Value, json};

use crate::backend::host::HostError;
use crate::core::ops::Refusal;
use crate::core::state::CancelRefused;
use crate::core::tasks::scheduler::QueueFull;
use crate::util::host;

/// One entry of a FastAPI request-validation error (`422`), e.g. a missing `oci_url`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// FastAPI's error type: `missing`, `string_type`, `value_error`, `json_invalid`...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where the bad value is, e.g. `["body", "oci_url"]`.
    pub loc: Vec<String>,
    /// A human readable message.
    pub msg: String,
    /// The offending input (`null` when absent).
    pub input: Value,
}

/// Everything that can go wrong while answering a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// 400: the request is malformed (bad Host header, bad name, bad query).
    BadRequest(String),
    /// 401: the token is missing or wrong. One body for every case, on purpose.
    Unauthorized,
    /// 403: a foreign Host or Origin.
    Forbidden(String),
    /// 404: no such route, VM or task.
    NotFound(String),
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: the VM is in the wrong state for the action.
    Conflict(String),
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// 415: a body that is not `application/json` on a mutating route.
    UnsupportedMediaType,
    /// 422: FastAPI's request-validation error.
    Validation(Vec<FieldError>),
    /// 429: the task queue is full.
    TooManyRequests(String),
    /// 500: a bug; the detail never carries secrets.
    Internal(String),
    /// 502: `tart` failed while answering a request directly (refresh, config).
    Tart(String),
    /// 502: the Orchard controller failed or refused while answering a request directly
    /// or while an operation on the cluster was checked.
    Cluster(String),
    /// 503: a capacity limit or a missing `tart`.
    Unavailable(String),
}

impl Error {
    /// The HTTP status code of this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed => 405,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge => 413,
            Error::UnsupportedMediaType => 415,
            Error::Validation(_) => 422,
            Error::TooManyRequests(_) => 429,
            Error::Internal(_) => 500,
            Error::Tart(_) | Error::Cluster(_) => 502,
            Error::Unavailable(_) => 503,
        }
    }

    /// The JSON body: `{"detail": "..."}` or, for validation errors, a list.
    pub fn body(&self) -> Value {
        let detail = match self {
            Error::Validation(errors) => return json!({ "detail": errors }),
            Error::Unauthorized => "Invalid or missing X-Local-Token header",
            Error::MethodNotAllowed => "Method Not Allowed",
            Error::PayloadTooLarge => "Request body too large",
            Error::UnsupportedMediaType => "Content-Type must be application/json",
            Error::BadRequest(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::TooManyRequests(m)
            | Error::Internal(m)
            | Error::Tart(m)
            | Error::Cluster(m)
            | Error::Unavailable(m) => m.as_str(),
        };
        json!({ "detail": detail })
    }

    /// The FastAPI answer to an unknown path.
    pub fn route_not_found() -> Error {
        Error::NotFound("Not Found".to_string())
    }

    /// A single-field validation error in the request body.
    pub fn invalid_field(
        kind: &'static str,
        field: &str,
        msg: impl Into<String>,
        input: Value,
    ) -> Error {
        Error::Validation(vec![FieldError {
            kind,
            loc: vec!["body".to_string(), field.to_string()],
            msg: msg.into(),
            input,
        }])
    }
}

impl Error {
    /// A 422 for a bad query parameter, in FastAPI's shape.
    pub fn invalid_query(
        kind: &'static str,
        param: &str,
        msg: impl Into<String>,
        input: &str,
    ) -> Error {
        Error::Validation(vec![FieldError {
            kind,
            loc: vec!["query".to_string(), param.to_string()],
            msg: msg.into(),
            input: Value::String(input.to_string()),
        }])
    }
}

impl From<QueueFull> for Error {
    fn from(_: QueueFull) -> Error {
        Error::TooManyRequests("too many tasks are waiting; try again later".into())
    }
}

impl From<host::Refused> for Error {
    fn from(refused: host::Refused) -> Error {
        let detail = refused.detail().to_string();
        match refused.status() {
            400 => Error::BadRequest(detail),
            _ => Error::Forbidden(detail),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        match refusal {
            Refusal::NotFound(m) => Error::NotFound(m),
            Refusal::Conflict(m) => Error::Conflict(m),
            Refusal::Unsuitable(m) => Error::BadRequest(m),
            Refusal::Invalid {
                field,
                message,
                input,
            } => Error::invalid_field("value_error", field, message, input),
            Refusal::QueueFull => QueueFull.into(),
            Refusal::HostFailed(m) => Error::Cluster(m),
        }
    }
}

impl From<HostError> for Error {
    fn from(e: HostError) -> Error {
        match e {
            HostError::Unavailable(m) => Error::Unavailable(m),
            HostError::NotFound(m) => Error::NotFound(m),
            HostError::Failed(m) => Error::Tart(m),
            HostError::Refused(m) => Error::Conflict(m),
        }
    }
}

impl From<CancelRefused> for Error {
    fn from(why: CancelRefused) -> Error {
        match why {
            CancelRefused::NotFound => Error::NotFound("Task not found".into()),
            CancelRefused::Ended | CancelRefused::NotCancellable => {
                Error::Conflict(why.to_string())
            }
        }
    }
}
