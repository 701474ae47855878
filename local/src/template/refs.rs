//! The intrinsic functions the local stack resolves in template values
//! (`!Ref`, `!GetAtt`, `!Sub`, and `!If` on the template's conditions), against
//! the parameters and the physical ids of the resources its bootstrap created.

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

    /// The key a condition's truth is kept under (see [`Refs::with_conditions`]).
    fn condition_key(name: &str) -> String {
        format!("Condition::{name}")
    }

    /// These refs plus the truth of each of the template's `conditions`, for
    /// `!If`. Conditions may use `!Equals`, `!Not`, `!And`, `!Or`, `!Condition`.
    pub fn with_conditions(&self, conditions: Option<&Value>) -> Result<Refs, TemplateError> {
        let mut refs = self.clone();
        let Some(conditions) = conditions.and_then(Value::as_mapping) else {
            return Ok(refs);
        };
        for (name, condition) in conditions {
            let name = name
                .as_str()
                .ok_or_else(|| shape("condition name is not a string"))?;
            let truth = refs.holds(condition, conditions)?;
            refs.insert(Self::condition_key(name), truth.to_string());
        }
        Ok(refs)
    }

    fn holds(&self, condition: &Value, all: &yaml_serde::Mapping) -> Result<bool, TemplateError> {
        let Value::Tagged(tagged) = condition else {
            return Err(shape(format!("cannot evaluate condition {condition:?}")));
        };
        let items = || {
            tagged
                .value
                .as_sequence()
                .ok_or_else(|| shape(format!("!{} takes a list", tagged.tag)))
        };
        match tagged.tag.to_string().trim_start_matches('!') {
            "Equals" => match items()?.as_slice() {
                [a, b] => Ok(self.resolve(a)? == self.resolve(b)?),
                _ => Err(shape("!Equals takes two values")),
            },
            "Not" => match items()?.as_slice() {
                [c] => Ok(!self.holds(c, all)?),
                _ => Err(shape("!Not takes one condition")),
            },
            "And" => items()?
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.holds(c, all)?)),
            "Or" => items()?
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.holds(c, all)?)),
            "Condition" => {
                let name = tagged
                    .value
                    .as_str()
                    .ok_or_else(|| shape("!Condition takes a name"))?;
                let other = all
                    .get(name)
                    .ok_or_else(|| shape(format!("no condition {name}")))?;
                self.holds(other, all)
            }
            other => Err(shape(format!("the local stack does not evaluate !{other}"))),
        }
    }

    pub fn resolve(&self, value: &Value) -> Result<String, TemplateError> {
        if let Some(s) = scalar(value) {
            return Ok(s);
        }
        let Value::Tagged(tagged) = value else {
            return Err(shape(format!("cannot resolve {value:?}")));
        };
        if tagged.tag == "If" {
            let Some([condition, then, otherwise]) = tagged.value.as_sequence().map(Vec::as_slice)
            else {
                return Err(shape(
                    "!If takes [condition, value if true, value if false]",
                ));
            };
            let name = condition
                .as_str()
                .ok_or_else(|| shape("!If names its condition"))?;
            let truth = self.lookup(&Self::condition_key(name))?;
            return self.resolve(if truth == "true" { then } else { otherwise });
        }
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

    #[test]
    fn if_resolves_on_the_conditions_of_the_parameters() {
        let conditions: Value = yaml_serde::from_str(
            "Named: !Not [!Equals [!Ref Name, \"\"]]\nUnnamed: !Not [!Condition Named]",
        )
        .unwrap();
        let value: Value =
            yaml_serde::from_str("!If [Named, !Ref Name, !Sub \"kiosk/${Environment}/key\"]")
                .unwrap();
        let mut refs = Refs::default();
        refs.insert("Environment", "local");
        refs.insert("Name", "");
        let derived = refs.with_conditions(Some(&conditions)).unwrap();
        assert_eq!(derived.resolve(&value).unwrap(), "kiosk/local/key");
        assert_eq!(derived.lookup("Condition::Unnamed").unwrap(), "true");
        refs.insert("Name", "given/key");
        let given = refs.with_conditions(Some(&conditions)).unwrap();
        assert_eq!(given.resolve(&value).unwrap(), "given/key");
        // Without the conditions evaluated, !If is an error, not a guess.
        assert!(refs.resolve(&value).is_err());
    }
}
