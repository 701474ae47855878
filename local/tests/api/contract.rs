//! Every answer the end-to-end tests receive is checked against openapi.yaml:
//! the route must be documented, the status listed for it, and the body valid
//! against the response schema.

use serde_json::{Value, json};
use std::sync::OnceLock;

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = crate::helpers::workspace_path("openapi.yaml");
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(pointer) => doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("openapi.yaml: dangling $ref {pointer}")),
        None => value,
    }
}

pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    let doc = openapi();
    let Some((route, item)) = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(route, item)| matches(route, path) && item.get(method.to_lowercase()).is_some())
    else {
        panic!("openapi.yaml documents no {method} {path}")
    };
    let operation = &item[method.to_lowercase()];
    let response = operation["responses"]
        .get(status.to_string())
        .or_else(|| operation["responses"].get("default"))
        .unwrap_or_else(|| {
            panic!("openapi.yaml lists no {status} for {method} {route}; the body was {body}")
        });
    let response = resolve(doc, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        assert_eq!(
            *body,
            Value::Null,
            "{method} {route} {status} has no documented body, but one came: {body}"
        );
        return;
    };
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("openapi.yaml: bad schema for {method} {route} {status}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {route} {status}: the body does not match openapi.yaml:\n{}\nbody: {body}",
        errors.join("\n")
    );
}
