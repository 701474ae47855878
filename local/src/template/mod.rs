//! What the local stack reads from `template.yaml`: routes, the authorizer,
//! gateway responses, each function's environment, and the resources to create.
//! Reading them from the template (not restating them) keeps local and deployed
//! alike; a value the local stack cannot resolve is an error, not a guess.

mod refs;

pub use refs::Refs;

use refs::scalar;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use yaml_serde::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template: {0}")]
    Read(#[from] std::io::Error),
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
    #[error("template: {0}")]
    Shape(String),
}

fn shape(message: impl Into<String>) -> TemplateError {
    TemplateError::Shape(message.into())
}

/// A route of the API: one `Type: Api` event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// As declared, with `{param}` segments: `/products/{id}`.
    pub path: String,
    /// The function's logical id in the template.
    pub function: String,
    /// False for `Auth: {Authorizer: NONE}`.
    pub authorized: bool,
}

#[derive(Debug, Clone)]
pub struct Authorizer {
    pub function: String,
    pub header: String,
    pub validation_expression: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GatewayResponse {
    /// `None` keeps the status of the error itself (the DEFAULT_* responses).
    pub status: Option<u16>,
    pub body: String,
}

/// The parsed template.
pub struct Template {
    root: Value,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            root: yaml_serde::from_str(text)?,
        })
    }

    /// The project's own template, next to the workspace's Cargo.toml.
    pub fn default_path() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("template.yaml")
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// Logical ids and properties of the resources of one type.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, r)| (id, r.get("Properties").unwrap_or(&Value::Null)))
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.resources()
            .find(|(id, _)| *id == logical_id)
            .map(|(_, r)| r)
    }

    /// Function logical id → binary name (`Metadata.BuildProperties.Binary`).
    pub fn functions(&self) -> Result<BTreeMap<String, String>, TemplateError> {
        self.resources()
            .filter(|(_, r)| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function")
            })
            .map(|(id, r)| {
                let binary = r
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| shape(format!("{id} has no Metadata.BuildProperties.Binary")))?;
                Ok((id.to_owned(), binary.to_owned()))
            })
            .collect()
    }

    pub fn routes(&self) -> Result<Vec<Route>, TemplateError> {
        let mut routes = Vec::new();
        for (function, name, event) in self.events_of_type("Api") {
            let p = event
                .get("Properties")
                .ok_or_else(|| shape(format!("{function} event {name:?} has no Properties")))?;
            let text = |key: &str| {
                p.get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| shape(format!("{function} event {name:?} has no {key}")))
            };
            let authorizer = p
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .and_then(Value::as_str);
            routes.push(Route {
                method: text("Method")?.to_ascii_uppercase(),
                path: text("Path")?.to_owned(),
                function: function.to_owned(),
                authorized: authorizer != Some("NONE"),
            });
        }
        Ok(routes)
    }

    /// The functions run on a schedule (`Type: Schedule` events with a
    /// `rate(...)` expression): logical id and period.
    pub fn schedules(&self) -> Result<Vec<(String, std::time::Duration)>, TemplateError> {
        let mut schedules = Vec::new();
        for (function, name, event) in self.events_of_type("Schedule") {
            let expression = event
                .get("Properties")
                .and_then(|p| p.get("Schedule"))
                .and_then(Value::as_str)
                .ok_or_else(|| shape(format!("{function} event {name:?} has no Schedule")))?;
            let every = rate(expression).ok_or_else(|| {
                shape(format!(
                    "{function} event {name:?}: {expression:?} is not a rate(...) the local stack runs"
                ))
            })?;
            schedules.push((function.to_owned(), every));
        }
        Ok(schedules)
    }

    /// Every event of type `kind` (`Api`, `Schedule`) of every function:
    /// the function's logical id, the event's name and the event.
    fn events_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value, &'a Value)> + 'a {
        self.resources_of_type("AWS::Serverless::Function")
            .flat_map(|(function, properties)| {
                properties
                    .get("Events")
                    .and_then(Value::as_mapping)
                    .into_iter()
                    .flatten()
                    .map(move |(name, event)| (function, name, event))
            })
            .filter(move |(_, _, event)| event.get("Type").and_then(Value::as_str) == Some(kind))
    }

    fn api_properties(&self) -> Result<&Value, TemplateError> {
        self.resources_of_type("AWS::Serverless::Api")
            .map(|(_, p)| p)
            .next()
            .ok_or_else(|| shape("no AWS::Serverless::Api"))
    }

    /// The API's default authorizer.
    pub fn authorizer(&self) -> Result<Authorizer, TemplateError> {
        let auth = self
            .api_properties()?
            .get("Auth")
            .ok_or_else(|| shape("the API has no Auth"))?;
        let name = auth
            .get("DefaultAuthorizer")
            .and_then(Value::as_str)
            .ok_or_else(|| shape("no DefaultAuthorizer"))?;
        let definition = auth
            .get("Authorizers")
            .and_then(|a| a.get(name))
            .ok_or_else(|| shape(format!("authorizer {name} is not defined")))?;
        let function = match definition.get("FunctionArn") {
            Some(Value::Tagged(t)) if t.tag == "GetAtt" => t
                .value
                .as_str()
                .and_then(|s| s.strip_suffix(".Arn"))
                .map(str::to_owned),
            _ => None,
        }
        .ok_or_else(|| shape("the authorizer's FunctionArn is not !GetAtt <Function>.Arn"))?;
        let identity = definition.get("Identity");
        let header = identity
            .and_then(|i| i.get("Header"))
            .and_then(Value::as_str)
            .unwrap_or("Authorization")
            .to_owned();
        let validation_expression = identity
            .and_then(|i| i.get("ValidationExpression"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Authorizer {
            function,
            header,
            validation_expression,
        })
    }

    /// `GatewayResponses` of the API by type (`UNAUTHORIZED`, ...).
    pub fn gateway_responses(&self) -> Result<HashMap<String, GatewayResponse>, TemplateError> {
        let responses = self
            .api_properties()?
            .get("GatewayResponses")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten();
        responses
            .map(|(kind, r)| {
                let kind = kind
                    .as_str()
                    .ok_or_else(|| shape("gateway response type is not a string"))?;
                let status = r
                    .get("StatusCode")
                    .and_then(|s| {
                        s.as_u64()
                            .or_else(|| s.as_str().and_then(|s| s.parse().ok()))
                    })
                    .and_then(|s| u16::try_from(s).ok());
                let body = r
                    .get("ResponseTemplates")
                    .and_then(|t| t.get("application/json"))
                    .and_then(Value::as_str)
                    .unwrap_or("{}")
                    .to_owned();
                Ok((kind.to_owned(), GatewayResponse { status, body }))
            })
            .collect()
    }

    /// The environment the template gives `function`: Globals, then the
    /// function's own variables, each resolved with `refs`.
    pub fn function_env(
        &self,
        function: &str,
        refs: &Refs,
    ) -> Result<HashMap<String, String>, TemplateError> {
        let global = self.root.get("Globals").and_then(|g| g.get("Function"));
        let own = self
            .resource(function)
            .and_then(|r| r.get("Properties"))
            .ok_or_else(|| shape(format!("no function {function}")))?;
        let refs = &refs.with_conditions(self.root.get("Conditions"))?;
        let mut env = HashMap::new();
        for source in [global, Some(own)].into_iter().flatten() {
            let variables = source
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping);
            for (name, value) in variables.into_iter().flatten() {
                let name = name
                    .as_str()
                    .ok_or_else(|| shape("environment variable name is not a string"))?;
                env.insert(name.to_owned(), refs.resolve(value)?);
            }
        }
        Ok(env)
    }

    /// A function's `MemorySize` in MB (its own, else the Globals').
    pub fn function_memory_mb(&self, function: &str) -> Option<u64> {
        let own = self
            .resource(function)?
            .get("Properties")?
            .get("MemorySize")
            .and_then(Value::as_u64);
        own.or_else(|| {
            self.root
                .get("Globals")?
                .get("Function")?
                .get("MemorySize")?
                .as_u64()
        })
    }

    /// The template's parameters: (name, declaration).
    fn parameters(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
    }

    /// The parameters CloudFormation reads from SSM at deploy time (type
    /// `AWS::SSM::Parameter::Value<...>`): their value is a parameter name.
    pub fn ssm_parameters(&self) -> Vec<String> {
        self.parameters()
            .filter(|(_, p)| {
                p.get("Type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("AWS::SSM::Parameter::Value<"))
            })
            .filter_map(|(name, _)| name.as_str().map(str::to_owned))
            .collect()
    }

    /// The variables Lambda itself sets from the function's `LoggingConfig`
    /// (its own keys over the Globals'): `AWS_LAMBDA_LOG_FORMAT` from
    /// `LogFormat`, `AWS_LAMBDA_LOG_LEVEL` from `ApplicationLogLevel`, which
    /// the runtime's log subscriber reads.
    pub fn function_logging_env(&self, function: &str) -> HashMap<String, String> {
        let own = self
            .resource(function)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("LoggingConfig"));
        let global = self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("LoggingConfig"));
        [
            ("LogFormat", "AWS_LAMBDA_LOG_FORMAT"),
            ("ApplicationLogLevel", "AWS_LAMBDA_LOG_LEVEL"),
        ]
        .into_iter()
        .filter_map(|(key, variable)| {
            let value = [own, global]
                .into_iter()
                .flatten()
                .find_map(|config| config.get(key).and_then(scalar))?;
            Some((variable.to_owned(), value))
        })
        .collect()
    }

    /// Default values of the template's parameters.
    pub fn parameter_defaults(&self) -> HashMap<String, String> {
        self.parameters()
            .filter_map(|(name, p)| Some((name.as_str()?.to_owned(), scalar(p.get("Default")?)?)))
            .collect()
    }
}

/// EventBridge's `rate(value unit)`: `rate(1 minute)`, `rate(5 minutes)`,
/// `rate(1 hour)`, `rate(2 days)`.
pub fn rate(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok().filter(|v| *v > 0)?;
    let seconds = match (value, unit.trim()) {
        (1, "minute") | (2.., "minutes") => 60,
        (1, "hour") | (2.., "hours") => 3600,
        (1, "day") | (2.., "days") => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(value.checked_mul(seconds)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Template {
        Template::load(&Template::default_path()).unwrap()
    }

    #[test]
    fn public_routes_are_the_ones_marked_authorizer_none() {
        let routes = project().routes().unwrap();
        let kiosk_sign_in = routes
            .iter()
            .find(|r| r.method == "POST" && r.path == "/auth/kiosk")
            .unwrap();
        assert!(!kiosk_sign_in.authorized);
        // The customer sign-in routes are the kiosks': behind the authorizer.
        let signup = routes
            .iter()
            .find(|r| r.method == "POST" && r.path == "/customers")
            .unwrap();
        assert!(signup.authorized);
        let list = routes
            .iter()
            .find(|r| r.method == "GET" && r.path == "/customers")
            .unwrap();
        assert!(list.authorized);
    }

    #[test]
    fn rates_read_like_eventbridge_and_others_are_refused() {
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(rate("rate(1 minute)"), Some(minute));
        assert_eq!(rate("rate(5 minutes)"), Some(minute * 5));
        assert_eq!(rate("rate(2 hours)"), Some(minute * 120));
        assert_eq!(rate("rate(1 day)"), Some(minute * 1440));
        for bad in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(0 minutes)",
            "cron(* * * * ? *)",
            "rate(x minutes)",
        ] {
            assert_eq!(rate(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_order_expiry_runs_every_minute() {
        let schedules = project().schedules().unwrap();
        assert_eq!(
            schedules,
            [(
                "OrderExpiryFunction".to_owned(),
                std::time::Duration::from_secs(60)
            )]
        );
        assert_eq!(
            project().functions().unwrap()["OrderExpiryFunction"],
            "order-expiry"
        );
    }

    #[test]
    fn the_authorizer_is_the_validate_jwt_function() {
        let template = project();
        let authorizer = template.authorizer().unwrap();
        assert_eq!(
            template.functions().unwrap()[&authorizer.function],
            "validate-jwt"
        );
        assert_eq!(authorizer.header, "Authorization");
    }

    #[test]
    fn cloudformation_short_tags_are_read_as_tagged_values() {
        let yaml = "
a: !Ref Name
b: !Sub \"x-${Name}\"
c: !GetAtt Function.Arn
d: !If [IsProd, 1, 2]
e: !Equals [!Ref Environment, prod]
f: !Not [!Condition IsProd]
g: !Join ['', [a, b]]
h: !Select [0, !GetAZs '']
";
        let value: Value = yaml_serde::from_str(yaml).unwrap();
        let tags: Vec<String> = value
            .as_mapping()
            .unwrap()
            .values()
            .map(|v| match v {
                Value::Tagged(t) => t.tag.to_string(),
                other => panic!("not tagged: {other:?}"),
            })
            .collect();
        assert_eq!(
            tags,
            [
                "!Ref", "!Sub", "!GetAtt", "!If", "!Equals", "!Not", "!Join", "!Select"
            ]
        );
        let Value::Tagged(get_att) = &value["c"] else {
            unreachable!()
        };
        assert!(get_att.tag == "GetAtt");
        assert_eq!(get_att.value.as_str(), Some("Function.Arn"));
        // Every tag of the project's template parses too.
        assert!(!project().functions().unwrap().is_empty());
    }
}
