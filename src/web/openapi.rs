//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every route, kept by hand in
//! `openapi.json` beside this file and embedded as is. The route table's test
//! (`routes.rs`) fails, naming them, when a route of the table is missing from the
//! document (or the document names a route the table does not have), so a new route
//! comes with its entry. No state, no threads.

use super::reply::{Body, Reply};

/// The document, exactly as in the repository.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document as a 200 JSON reply.
pub fn document() -> Reply {
    Reply::json_bytes(200, Body::Static(DOCUMENT.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::DOCUMENT;

    /// Every `$ref` points at a schema that exists, and every operation says what it
    /// answers on success and on error.
    #[test]
    fn the_openapi_document_is_complete_in_itself() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").expect(&r);
            assert!(schemas.contains_key(name), "{r} has no schema");
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|k| k.starts_with('2') || k == "101"),
                    "{method} {path}: no success answer"
                );
                assert!(
                    responses.contains_key("default"),
                    "{method} {path}: no error answer"
                );
                assert!(op["summary"].is_string(), "{method} {path}: no summary");
            }
        }
    }
}
