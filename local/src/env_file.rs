//! Every function's environment against a local stack, in the shape of
//! `sam local invoke --env-vars` (`{"FunctionLogicalId": {"VAR": "value"}}`):
//! the template's variables resolved against the stack, the ones Lambda sets
//! from `LoggingConfig`, and the emulator's endpoint, region and dummy
//! credentials. With it any tool runs a built binary against the stack.
//!
//! `make dev` writes it to `.local/env.json`; the events test and `make bench`
//! start the binaries with the same environments.

use crate::bootstrap::{BoxError, LocalStack};
use crate::template::{Template, TemplateError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Function logical id → variable → value.
pub type EnvVars = BTreeMap<String, BTreeMap<String, String>>;

/// Region and credentials of the emulator (moto takes any credentials).
const AWS_SETTINGS: &[(&str, &str)] = &[
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
];

/// The environment of every function of `template`, against `stack` in the
/// emulator at `endpoint`.
pub fn resolve(
    template: &Template,
    stack: &LocalStack,
    endpoint: &str,
) -> Result<EnvVars, TemplateError> {
    template
        .functions()?
        .into_keys()
        .map(|function| {
            let mut env: BTreeMap<String, String> = template
                .function_env(&function, &stack.refs)?
                .into_iter()
                .collect();
            env.extend(template.function_logging_env(&function));
            env.extend(
                AWS_SETTINGS
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
            );
            env.insert("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned());
            Ok((function, env))
        })
        .collect()
}

/// Where `make dev` writes the file: `.local/env.json` in the workspace.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".local")
        .join("env.json")
}

/// Writes `vars` to `path` as pretty JSON, creating its folder.
pub fn write(path: &Path, vars: &EnvVars) -> Result<(), BoxError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let mut text = serde_json::to_string_pretty(vars)?;
    text.push('\n');
    std::fs::write(path, text)?;
    Ok(())
}

/// What `make dev` does: resolves every function's environment against
/// `stack` and writes it to `LOCAL_ENV_JSON`, by default [`default_path`]
/// (the README walkthrough check writes elsewhere, so that `make test` never
/// overwrites the file of a running `make dev`). Returns where it wrote.
pub fn write_local(
    template: &Template,
    stack: &LocalStack,
    endpoint: &str,
) -> Result<PathBuf, BoxError> {
    let path = std::env::var_os("LOCAL_ENV_JSON")
        .filter(|p| !p.is_empty())
        .map_or_else(default_path, PathBuf::from);
    write(&path, &resolve(template, stack, endpoint)?)?;
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Refs;

    /// A stack whose every resource, attribute and parameter resolves to a
    /// value named after it, as if bootstrapped.
    fn stack(template: &Template) -> LocalStack {
        let text = std::fs::read_to_string(Template::default_path()).unwrap();
        let yaml: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        let mut refs = Refs::default();
        for (name, _) in yaml["Resources"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            refs.insert(name, format!("local-{name}"));
            refs.insert(format!("{name}.Arn"), format!("arn:local:{name}"));
        }
        for (name, value) in template.parameter_defaults() {
            refs.insert(name, value);
        }
        // SSM-typed parameters have no default: the bootstrap resolves them.
        for name in template.ssm_parameters() {
            refs.insert(name.clone(), format!("local-{name}"));
        }
        // The parameters without a default that the bootstrap gives a local value.
        refs.insert("Environment", "local");
        refs.insert("SenderEmail", "no-reply@kiosk.example.com");
        LocalStack {
            prefix: "local".into(),
            refs,
        }
    }

    #[test]
    fn every_function_of_the_template_gets_its_variables_resolved() {
        let template = Template::load(&Template::default_path()).unwrap();
        let stack = stack(&template);
        let vars = resolve(&template, &stack, "http://127.0.0.1:4566").unwrap();

        let functions = template.functions().unwrap();
        assert_eq!(
            vars.keys().collect::<Vec<_>>(),
            functions.keys().collect::<Vec<_>>()
        );
        for (function, env) in &vars {
            let declared = template.function_env(function, &stack.refs).unwrap();
            assert!(!declared.is_empty(), "{function} declares variables");
            for (name, value) in &declared {
                assert_eq!(env.get(name), Some(value), "{function} {name}");
            }
            for value in env.values() {
                assert!(
                    !value.is_empty() && !value.contains("${"),
                    "{function}: {value}"
                );
            }
            assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4566");
            assert_eq!(env["AWS_LAMBDA_LOG_FORMAT"], "JSON");
            assert_eq!(env["AWS_LAMBDA_LOG_LEVEL"], "INFO");
            assert_eq!(env["AWS_REGION"], "us-east-1");
        }
        assert_eq!(
            vars["ProductsFunction"]["PRODUCTS_TABLE"],
            "local-ProductsTable"
        );
        assert_eq!(
            vars["AuthenticateFunction"]["USER_POOL_ID"],
            "local-UserPool"
        );
    }

    #[test]
    fn the_file_reads_back_as_written() {
        let template = Template::load(&Template::default_path()).unwrap();
        let vars = resolve(&template, &stack(&template), "http://127.0.0.1:4566").unwrap();
        let path = std::env::temp_dir()
            .join(format!("env-{}", uuid::Uuid::new_v4().simple()))
            .join("env.json");
        write(&path, &vars).unwrap();
        let read: EnvVars = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(read, vars);
    }
}
