//! Reading the fields of a JSON request body the way FastAPI validates a model: every
//! problem is collected and answered at once as one 422 list, each entry with its
//! `type`, `loc` (`["body", field]`), `msg` and `input`. Unknown fields are ignored, as
//! FastAPI does by default.

use serde_json::{Map, Value};

use crate::web::error::{Error, FieldError};

/// The fields of one request body, and the problems found so far.
pub struct Fields {
    body: Map<String, Value>,
    errors: Vec<FieldError>,
    /// Fields whose value is never echoed back in an error (passwords).
    secret: Vec<&'static str>,
}

impl Fields {
    /// The body as an object; a missing body reads as `{}` when `optional`, else 422.
    pub fn new(body: Option<Value>, optional: bool) -> Result<Fields, Error> {
        match body {
            None if optional => Ok(Fields {
                body: Map::new(),
                errors: Vec::new(),
                secret: Vec::new(),
            }),
            None => Err(Error::Validation(vec![FieldError {
                kind: "missing",
                loc: vec!["body".into()],
                msg: "Field required".into(),
                input: Value::Null,
            }])),
            Some(Value::Object(body)) => Ok(Fields {
                body,
                errors: Vec::new(),
                secret: Vec::new(),
            }),
            Some(_) => Err(Error::Validation(vec![FieldError {
                kind: "model_attributes_type",
                loc: vec!["body".into()],
                msg: "Input should be a valid dictionary or object to extract fields from".into(),
                // Not echoed: the body may hold a secret.
                input: Value::Null,
            }])),
        }
    }

    /// Marks `field` as secret: an error about it shows `null` as its input.
    pub fn secret(&mut self, field: &'static str) {
        self.secret.push(field);
    }

    /// Records a problem with `field`.
    pub fn invalid(&mut self, kind: &'static str, field: &str, msg: impl Into<String>) {
        let input = if self.secret.contains(&field) {
            Value::Null
        } else {
            self.body.get(field).cloned().unwrap_or(Value::Null)
        };
        self.errors.push(FieldError {
            kind,
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
            input,
        });
    }

    /// A `value_error` with FastAPI's "Value error, " prefix.
    pub fn value_error(&mut self, field: &str, why: impl std::fmt::Display) {
        self.invalid("value_error", field, format!("Value error, {why}"));
    }

    /// Whether `field` is present and not `null`.
    pub fn has(&self, field: &str) -> bool {
        !matches!(self.body.get(field), None | Some(Value::Null))
    }

    /// An optional string.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.invalid("string_type", field, "Input should be a valid string");
                None
            }
        }
    }

    /// A required string.
    pub fn required_string(&mut self, field: &str) -> Option<String> {
        if !self.body.contains_key(field) {
            self.invalid("missing", field, "Field required");
            return None;
        }
        if self.body.get(field) == Some(&Value::Null) {
            self.invalid("string_type", field, "Input should be a valid string");
            return None;
        }
        self.string(field)
    }

    /// An optional whole number within `min..=max`.
    pub fn int(&mut self, field: &str, min: u64, max: u64) -> Option<u64> {
        let value = self.body.get(field)?.clone();
        if value.is_null() {
            return None;
        }
        // FastAPI takes whole floats (8.0) as integers and refuses fractions.
        let number = match &value {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
                        .map(|f| f as i128)
                }),
            _ => None,
        };
        let Some(number) = number else {
            self.invalid("int_type", field, "Input should be a valid integer");
            return None;
        };
        if number < i128::from(min) {
            self.invalid(
                "greater_than_equal",
                field,
                format!("Input should be greater than or equal to {min}"),
            );
            return None;
        }
        if number > i128::from(max) {
            self.invalid(
                "less_than_equal",
                field,
                format!("Input should be less than or equal to {max}"),
            );
            return None;
        }
        u64::try_from(number).ok()
    }

    /// An optional boolean.
    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.invalid("bool_type", field, "Input should be a valid boolean");
                None
            }
        }
    }

    /// A problem with the body as a whole (`loc` is `["body"]`).
    pub fn invalid_body(&mut self, msg: impl Into<String>) {
        self.errors.push(FieldError {
            kind: "value_error",
            loc: vec!["body".into()],
            msg: format!("Value error, {}", msg.into()),
            input: Value::Null,
        });
    }

    /// Ok when no problem was found, else the 422 with all of them.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

/// A body field error for a value that is not one of `choices`.
pub fn not_one_of(fields: &mut Fields, field: &str, choices: &[&str]) {
    let listed: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
    let msg = match listed.split_last() {
        Some((last, [])) => format!("Input should be {last}"),
        Some((last, rest)) => format!("Input should be {} or {last}", rest.join(", ")),
        None => "Input should be a valid value".into(),
    };
    fields.invalid("literal_error", field, msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(result: Result<(), Error>) -> Vec<(String, &'static str)> {
        match result {
            Err(Error::Validation(list)) => list
                .into_iter()
                .map(|e| (e.loc.get(1).cloned().unwrap_or_default(), e.kind))
                .collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let body = json!({"cpu": 0, "memory": "8", "name": 5, "disk_size": 2.5, "x": 1});
        let mut f = Fields::new(Some(body), false).unwrap();
        assert_eq!(f.int("cpu", 1, 128), None);
        assert_eq!(f.int("memory", 1, 1024), None);
        assert_eq!(f.string("name"), None);
        assert_eq!(f.int("disk_size", 10, 100), None);
        assert_eq!(f.required_string("new_name"), None);
        assert_eq!(
            errors(f.finish()),
            [
                ("cpu".to_string(), "greater_than_equal"),
                ("memory".to_string(), "int_type"),
                ("name".to_string(), "string_type"),
                ("disk_size".to_string(), "int_type"),
                ("new_name".to_string(), "missing"),
            ]
        );
    }

    #[test]
    fn good_values_pass() {
        let body = json!({"cpu": 4, "memory": 8.0, "name": "vm", "on": true, "big": 2000});
        let mut f = Fields::new(Some(body), false).unwrap();
        assert_eq!(f.int("cpu", 1, 128), Some(4));
        assert_eq!(f.int("memory", 1, 1024), Some(8));
        assert_eq!(f.string("name").as_deref(), Some("vm"));
        assert_eq!(f.bool("on"), Some(true));
        assert_eq!(f.int("absent", 1, 2), None);
        assert!(f.finish().is_ok());
        let mut f = Fields::new(Some(json!({"big": 2000, "neg": -1})), false).unwrap();
        assert_eq!(f.int("big", 1, 1024), None);
        assert_eq!(f.int("neg", 1, 1024), None);
        assert_eq!(
            errors(f.finish()),
            [
                ("big".to_string(), "less_than_equal"),
                ("neg".to_string(), "greater_than_equal")
            ]
        );
        assert!(Fields::new(None, true).is_ok());
        assert!(Fields::new(None, false).is_err());
        assert!(Fields::new(Some(json!([1])), true).is_err());
    }

    #[test]
    fn a_secret_is_never_echoed() {
        let mut f = Fields::new(Some(json!({"password": 12345})), false).unwrap();
        f.secret("password");
        assert_eq!(f.string("password"), None);
        match f.finish() {
            Err(Error::Validation(list)) => assert_eq!(list[0].input, Value::Null),
            other => panic!("expected 422, got {other:?}"),
        }
    }
}
