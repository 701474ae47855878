//! The intrinsic functions the local stack resolves in template values
//! (`!Ref`, `!GetAtt`, `!Sub`), against the parameters and the physical ids of
//! the resources its bootstrap created.

use super::{TemplateError, shape};
use std::collections::HashMap;
use yaml_serde::Value;

/// A scalar's text: a string, a number or a boolean.
pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What `!Ref`, `!GetAtt` and `!Sub` resolve to locally: parameters and the
/// physical ids of the resources the bootstrap created.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    pub values: HashMap<String, String>,
}

impl Refs {
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    fn lookup(&self, name: &str) -> Result<String, TemplateError> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| shape(format!("the local stack cannot resolve {name}")))
    }

    pub fn resolve(&self, value: &Value) -> Result<String, TemplateError> {
        if let Some(s) = scalar(value) {
            return Ok(s);
        }
        let Value::Tagged(tagged) = value else {
            return Err(shape(format!("cannot resolve {value:?}")));
        };
        let argument = tagged
            .value
            .as_str()
            .ok_or_else(|| shape(format!("!{} takes a string here", tagged.tag)))?;
        match tagged.tag.to_string().trim_start_matches('!') {
            "Ref" => self.lookup(argument),
            "GetAtt" => self.lookup(argument),
            "Sub" => {
                let mut out = String::new();
                let mut rest = argument;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| shape(format!("unclosed ${{ in {argument}")))?;
                    out.push_str(&self.lookup(&rest[start + 2..start + end])?);
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
            other => Err(shape(format!("the local stack does not resolve !{other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_and_ref_resolve_and_unknown_names_are_errors() {
        let mut refs = Refs::default();
        refs.insert("Environment", "local");
        let sub: Value = yaml_serde::from_str("!Sub \"kiosk-${Environment}-x\"").unwrap();
        assert_eq!(refs.resolve(&sub).unwrap(), "kiosk-local-x");
        let missing: Value = yaml_serde::from_str("!Ref Nowhere").unwrap();
        assert!(refs.resolve(&missing).is_err());
    }
}
