//! Real answers of a real server checked against `GET /api/openapi.json`: the document
//! the server serves describes what it sends (success and error shapes), for the routes
//! a client uses most. `scripts/fuzz-api` does the same for every route with generated
//! input; this runs in `cargo test` without Python.

mod support;

use serde_json::Value;
use support::TestServer;

/// The errors of `value` against `schema` (a subset of JSON Schema: `$ref`, `type`
/// with null, `enum`, `required`, `properties`, `items`, `anyOf`, `minimum`,
/// `maximum`), each with its JSON path.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(Value::String(r)) = schema.get("$ref") {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at, errors);
    }
    if let Some(Value::Array(options)) = schema.get("anyOf") {
        let fits = options.iter().any(|o| {
            let mut e = Vec::new();
            check(doc, o, value, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: fits none of anyOf: {value}"));
        }
        return;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |t: &str| match t {
            "null" => value.is_null(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            errors.push(format!("{at}: not {types:?}: {value}"));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not one of {allowed:?}"));
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            errors.push(format!("{at}: {n} below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} above the maximum"));
        }
    }
    if let Value::Object(map) = value {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().unwrap_or("");
            if !map.contains_key(key) {
                errors.push(format!("{at}: missing required {key}"));
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (key, sub) in props {
                if let Some(v) = map.get(key) {
                    check(doc, sub, v, &format!("{at}.{key}"), errors);
                }
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(doc, sub, v, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Checks an answer to `method path` (a documented path, e.g. `/api/vms/{name}`) with
/// `status` and `body` against the document: the status's schema, else `default`'s.
fn conforms(doc: &Value, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let responses = &op["responses"];
    let response = if responses[status.to_string()].is_object() {
        &responses[status.to_string()]
    } else {
        &responses["default"]
    };
    assert!(
        response.is_object(),
        "{method} {path}: {status} is not documented"
    );
    let schema = &response["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    check(
        doc,
        schema,
        body,
        &format!("{method} {path} {status}"),
        &mut errors,
    );
    errors
}

#[test]
fn the_servers_answers_match_its_own_openapi_document() {
    let server = TestServer::start();
    server.create_vm("ubuntu");
    let doc = server.get("/api/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");

    let mut errors = Vec::new();
    let mut answer = |method: &str, path: &str, real: &str, body: Option<&str>| {
        let r = match body {
            Some(b) => server.post(real, b),
            None => server.get(real),
        };
        errors.extend(conforms(&doc, method, path, r.status, &r.json()));
        r
    };
    answer("get", "/api/health", "/api/health", None);
    answer("post", "/api/vms/refresh", "/api/vms/refresh", Some("{}"));
    answer("get", "/api/vms", "/api/vms", None);
    answer("get", "/api/vms/{name}", "/api/vms/ubuntu", None);
    answer(
        "get",
        "/api/vms/{name}/config",
        "/api/vms/ubuntu/config",
        None,
    );
    answer("get", "/api/tart/version", "/api/tart/version", None);
    answer("get", "/api/vms/categorized", "/api/vms/categorized", None);
    answer(
        "get",
        "/api/vms/available-images",
        "/api/vms/available-images",
        None,
    );
    let started = answer(
        "post",
        "/api/vms/{name}/start",
        "/api/vms/ubuntu/start",
        Some("{}"),
    );
    assert_eq!(started.status, 202);
    let id = started.json()["id"].as_str().unwrap().to_string();
    let done = server.wait_task(&id);
    assert_eq!(done["status"], "completed", "{done}");
    answer("get", "/api/tasks/{id}", &format!("/api/tasks/{id}"), None);
    answer("get", "/api/tasks", "/api/tasks", None);
    answer("get", "/api/tasks/active", "/api/tasks/active", None);
    // Errors: a plain detail and the 422 list.
    let missing = answer("get", "/api/vms/{name}", "/api/vms/nope", None);
    assert_eq!(missing.status, 404);
    let bad = answer("post", "/api/vms/pull", "/api/vms/pull", Some("{}"));
    assert_eq!(bad.status, 422);
    let conflict = answer(
        "post",
        "/api/vms/{name}/start",
        "/api/vms/ubuntu/start",
        Some("{}"),
    );
    assert_eq!(conflict.status, 409);
    assert!(
        errors.is_empty(),
        "answers outside the document:\n{}",
        errors.join("\n")
    );
}

/// The checker itself catches what it must: a missing field, a wrong type, a value
/// outside its enum.
#[test]
fn the_schema_checker_finds_what_breaks_a_schema() {
    let doc: Value = serde_json::json!({"components": {"schemas": {"T": {
        "type": "object", "required": ["id"],
        "properties": {"id": {"type": "string"}, "status": {"enum": ["a", "b"]},
                       "n": {"type": ["integer", "null"], "maximum": 5}}}}}});
    let schema = serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/T"}});
    let mut errors = Vec::new();
    check(
        &doc,
        &schema,
        &serde_json::json!([{"id": "x", "status": "a", "n": null}]),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    check(
        &doc,
        &schema,
        &serde_json::json!([{"status": "c", "n": 9}, {"id": 1}]),
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}
