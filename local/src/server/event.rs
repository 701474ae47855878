//! A request as the REST (v1) proxy event API Gateway sends the function
//! (`resource`, `pathParameters`, `multiValueHeaders`,
//! `requestContext.authorizer`, ...), and the function's answer back as an
//! HTTP response.

use super::{ACCOUNT, API_ID, Route, STAGE};
use axum::body::{Body as AxumBody, Bytes};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};

/// The API Gateway REST (v1) proxy event for this request.
pub(super) fn proxy_event(
    route: &Route,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    path_parameters: Map<String, Value>,
    authorizer: Option<Value>,
) -> Value {
    let mut single_headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single_headers.insert(name.as_str().to_owned(), Value::String(value.clone()));
        if let Value::Array(values) = multi_headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| json!([]))
        {
            values.push(Value::String(value));
        }
    }
    let mut single_query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        single_query.insert(name.to_string(), Value::String(value.to_string()));
        if let Value::Array(values) = multi_query
            .entry(name.to_string())
            .or_insert_with(|| json!([]))
        {
            values.push(Value::String(value.to_string()));
        }
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let or_null = |map: Map<String, Value>| {
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    };
    let now = time::OffsetDateTime::now_utc();
    json!({
        "resource": route.path,
        "path": path,
        "httpMethod": route.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": or_null(single_query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": or_null(path_parameters),
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": route.method,
            "path": format!("/{STAGE}{path}"),
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "requestId": uuid::Uuid::new_v4().to_string(),
            "requestTimeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok())},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// The function's answer as the HTTP response.
pub(super) fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}
