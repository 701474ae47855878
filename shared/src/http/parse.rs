//! Parsing that needs no Lambda types: JSON bodies (into types whose fields
//! deny unknown keys, with errors that name fields but never echo values) and
//! bearer tokens.

use crate::{Code, Error, Result};
use serde::de::DeserializeOwned;

/// The largest body any route reads (ours are under 10 KiB: 50 order lines
/// with notes). A larger one is 413 `body_too_large`, never parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The request body as JSON of type `T` (whose fields deny unknown keys).
/// A missing body, a body that is not JSON, an unknown field or a field of the
/// wrong type is 400 `invalid_body`; the message says what was wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::TooLarge {
            code: Code::BodyTooLarge,
            message: format!("a body has at most {MAX_BODY_BYTES} bytes"),
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::validation(
            Code::InvalidBody,
            "a JSON body is required",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => describe(&e),
            _ => "the body is not valid JSON".to_owned(),
        };
        Error::validation(Code::InvalidBody, message)
    })
}

/// What was wrong with a well-formed body. serde_json's messages for unknown
/// and missing fields name only the field; the others quote the offending
/// value (which may be a CPF), so they are not passed on.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    if text.starts_with("unknown field") || text.starts_with("missing field") {
        format!("invalid body: {text}")
    } else {
        "invalid body: a field has the wrong type or value".to_owned()
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_name_fields_but_never_echo_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            cpf: String,
        }
        let message = |body: &str| match parse_json::<Body>(body.as_bytes()) {
            Err(e) => e.public_parts().1.to_owned(),
            Ok(b) => panic!("accepted {b:?}"),
        };
        assert!(!message(r#"{"cpf": 52998224725}"#).contains("52998224725"));
        assert!(message(r#"{"cpf": "1", "x": 1}"#).contains("unknown field `x`"));
        assert!(message(r#"{}"#).contains("missing field `cpf`"));
        assert_eq!(message("{nope"), "the body is not valid JSON");
    }

    #[test]
    fn bearer_takes_the_token_of_a_bearer_header_only() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
