//! The task routes of `api-next.md` §4: the filtered, paged list, the long-poll wait and
//! (with the scheduler's cancel handles) cancel. Plain functions from the request's parts
//! to a reply, as the other handlers.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::Error;
use super::reply::{Body, Reply, WaitRequest};
use super::state::Web;
use crate::core::tasks::store::TaskQuery;
use crate::limits::{
    TASK_LIST_DEFAULT_LIMIT, TASK_LIST_MAX_LIMIT, TASK_WAIT_DEFAULT, TASK_WAIT_MAX,
};
use crate::util::target::Target;

/// `GET /api/tasks?vm=&action=&status=&limit=&before=`: newest first.
pub fn list(app: &Web, target: &Target) -> Result<Reply, Error> {
    let query = TaskQuery {
        vm: target.param("vm").map(str::to_string),
        action: word(target, "action")?,
        status: word(target, "status")?,
        limit: match target.param("limit") {
            None => TASK_LIST_DEFAULT_LIMIT,
            Some(v) => bounded_int(v, "limit", 1, TASK_LIST_MAX_LIMIT as u64)? as usize,
        },
        before: target.param("before").map(str::to_string),
    };
    let json = app.core.tasks.query_json(&query).ok_or_else(|| {
        Error::invalid_query(
            "value_error",
            "before",
            "Value error, no such task",
            query.before.as_deref().unwrap_or(""),
        )
    })?;
    Ok(Reply::json_bytes(200, Body::Owned(json)))
}

/// `POST /api/tasks/{id}/cancel`: 202 with the task as it is now (a running one ends
/// `failed`, `cancelled`, once its process group is gone); 404 for no such task, 409
/// when it has ended or is short and running (`api-next.md` §4).
pub fn cancel(app: &Web, id: &str) -> Result<Reply, Error> {
    app.core.cancel_task(id)?;
    let json = app
        .core
        .tasks
        .get_json(id)
        .ok_or_else(|| Error::NotFound("Task not found".into()))?;
    Ok(Reply {
        location: Some(format!("/api/tasks/{id}")),
        ..Reply::json_bytes(202, Body::Owned(json))
    })
}

/// Checks `GET /api/tasks/{id}/wait?timeout=S`. Answers at once (the task as it is)
/// when the task has ended or `S` is 0; otherwise the request is to be parked.
pub fn wait(app: &Web, id: &str, target: &Target) -> Result<Result<Reply, WaitRequest>, Error> {
    let timeout = match target.param("timeout") {
        None => TASK_WAIT_DEFAULT,
        Some(v) => {
            let max = TASK_WAIT_MAX.as_secs_f64();
            let secs: f64 = v.trim().parse().map_err(|_| {
                Error::invalid_query(
                    "float_parsing",
                    "timeout",
                    "Input should be a valid number, unable to parse string as a number",
                    v,
                )
            })?;
            if !(0.0..=max).contains(&secs) {
                return Err(Error::invalid_query(
                    "less_than_equal",
                    "timeout",
                    format!("Input should be between 0 and {max} seconds"),
                    v,
                ));
            }
            Duration::from_secs_f64(secs)
        }
    };
    let Some(status) = app.core.tasks.status(id) else {
        return Err(Error::NotFound("Task not found".into()));
    };
    if status.is_terminal() || timeout.is_zero() {
        let json = app
            .core
            .tasks
            .get_json(id)
            .ok_or_else(|| Error::NotFound("Task not found".into()))?;
        return Ok(Ok(Reply::json_bytes(200, Body::Owned(json))));
    }
    Ok(Err(WaitRequest {
        id: id.to_string(),
        timeout,
    }))
}

/// A query word that names one of a wire enum's values (an action, a status).
fn word<T: DeserializeOwned>(target: &Target, name: &str) -> Result<Option<T>, Error> {
    let Some(v) = target.param(name) else {
        return Ok(None);
    };
    serde_json::from_value(Value::String(v.to_string()))
        .map(Some)
        .map_err(|_| {
            Error::invalid_query("enum", name, format!("Input should be a known {name}"), v)
        })
}

fn bounded_int(v: &str, name: &str, min: u64, max: u64) -> Result<u64, Error> {
    let n: u64 = v.trim().parse().map_err(|_| {
        Error::invalid_query(
            "int_parsing",
            name,
            "Input should be a valid integer, unable to parse string as an integer",
            v,
        )
    })?;
    if n < min || n > max {
        return Err(Error::invalid_query(
            "less_than_equal",
            name,
            format!("Input should be between {min} and {max}"),
            v,
        ));
    }
    Ok(n)
}
