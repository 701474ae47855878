//! One contract that cannot drift: the routes of template.yaml, openapi.yaml
//! and the local API; the variables each function reads, template.yaml and
//! env.json; the resources the local bootstrap creates and the template.

use crate::helpers::{bare_stack, emulator_endpoint, spawn_app, template, workspace_path};
use aws_config::SdkConfig;
use kiosk_local::bootstrap::LocalStack;
use kiosk_local::template::Template;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn workspace_file(name: &str) -> String {
    std::fs::read_to_string(workspace_path(name)).unwrap()
}

/// References resolved to placeholders: enough to read the environment
/// without creating anything.
fn placeholder_refs(template: &Template) -> kiosk_local::template::Refs {
    let mut refs = kiosk_local::template::Refs::default();
    let yaml: yaml_serde::Value = yaml_serde::from_str(&workspace_file("template.yaml")).unwrap();
    for (name, _) in yaml["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        refs.insert(name, format!("ref-{name}"));
        refs.insert(format!("{name}.Arn"), format!("arn:aws:test:{name}"));
    }
    for (name, value) in template.parameter_defaults() {
        refs.insert(name, value);
    }
    // The environment and the sender have no default: every deploy names them.
    refs.insert("Environment", "dev");
    refs.insert(
        kiosk_local::bootstrap::SENDER_PARAMETER,
        kiosk_local::bootstrap::LOCAL_SENDER,
    );
    // What CloudFormation reads from SSM: the public keys, a valid JWKS.
    let key = shared::domain::jwk::PrivateKey::from_seed([1; 32]);
    let jwks = shared::domain::jwk::PublicKeys::new(vec![key.public()]).unwrap();
    for name in template.ssm_parameters() {
        refs.insert(name, jwks.to_jwks());
    }
    for pseudo in [
        "AWS::Region",
        "AWS::AccountId",
        "AWS::URLSuffix",
        "AWS::StackName",
        "AWS::Partition",
    ] {
        refs.insert(pseudo, "test");
    }
    refs
}

#[tokio::test]
async fn every_variable_a_function_reads_is_set_in_the_template_and_in_env_json() {
    let template = template();
    let refs = placeholder_refs(&template);
    let env_json: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&workspace_file("env.json")).unwrap();
    let sdk = kiosk_local::emulator_sdk("http://127.0.0.1:9").await;
    let functions = template.functions().unwrap();
    assert_eq!(
        env_json.keys().collect::<BTreeSet<_>>(),
        functions.keys().collect::<BTreeSet<_>>(),
        "env.json names every function"
    );
    for (logical_id, binary) in &functions {
        let declared = template.function_env(logical_id, &refs).unwrap();
        let read = kiosk_local::server::variables_read(binary, &sdk, declared.clone()).unwrap();
        assert!(
            !read.is_empty(),
            "{binary} reads its configuration through Env"
        );
        let in_template: BTreeSet<String> = declared.keys().cloned().collect();
        let in_env_json: BTreeSet<String> = env_json[logical_id].keys().cloned().collect();
        let missing_in_template: Vec<_> = read.difference(&in_template).collect();
        let missing_in_env_json: Vec<_> = read.difference(&in_env_json).collect();
        assert!(
            missing_in_template.is_empty(),
            "{logical_id} reads {missing_in_template:?}, which template.yaml does not set"
        );
        assert!(
            missing_in_env_json.is_empty(),
            "{logical_id} reads {missing_in_env_json:?}, which env.json does not set"
        );
        let unused: Vec<_> = in_env_json.difference(&read).collect();
        assert!(
            unused.is_empty(),
            "env.json sets {unused:?} for {logical_id}, which it never reads"
        );
    }
}

/// Template resource types the local stack creates, and those that exist only
/// when deployed (the local API stands in for the API and the functions).
const BOOTSTRAPPED: &[&str] = &[
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
    "AWS::SecretsManager::Secret",
    "AWS::DynamoDB::Table",
];
const DEPLOY_ONLY: &[&str] = &[
    "AWS::Serverless::Api",
    "AWS::Serverless::Function",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::MetricFilter",
    "AWS::ApiGateway::Account",
    "AWS::IAM::Role",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
];

#[tokio::test]
async fn the_local_bootstrap_creates_what_the_template_declares() {
    let yaml: yaml_serde::Value = yaml_serde::from_str(&workspace_file("template.yaml")).unwrap();
    for (name, resource) in yaml["Resources"].as_mapping().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        assert!(
            BOOTSTRAPPED.contains(&kind) || DEPLOY_ONLY.contains(&kind),
            "{name:?} is a {kind}: teach the local bootstrap to create it, or list it as deploy-only here"
        );
    }

    let (sdk, template, stack) = bare_stack(&emulator_endpoint()).await;
    for (logical_id, _) in yaml["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| BOOTSTRAPPED.contains(&r["Type"].as_str().unwrap()))
    {
        let logical_id = logical_id.as_str().unwrap();
        assert!(
            stack.get(logical_id).is_ok(),
            "{logical_id} was not created locally"
        );
    }

    assert_tables_as_declared(&sdk, &template, &stack).await;
    assert_cognito_as_declared(&sdk, &template, &stack).await;
}

/// Each table of the local stack has the keys and indexes the template declares.
async fn assert_tables_as_declared(sdk: &SdkConfig, template: &Template, stack: &LocalStack) {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    for (logical_id, table) in template.resources_of_type("AWS::DynamoDB::Table") {
        let described = dynamodb
            .describe_table()
            .table_name(stack.get(logical_id).unwrap())
            .send()
            .await
            .unwrap();
        let described = described.table().unwrap();
        let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
            schema
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
        let declared_keys = |value: &yaml_serde::Value| -> Vec<(String, String)> {
            value["KeySchema"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|k| {
                    (
                        k["AttributeName"].as_str().unwrap().to_owned(),
                        k["KeyType"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            keys(described.key_schema()),
            declared_keys(table),
            "{logical_id} key schema"
        );
        let local_indexes: BTreeMap<String, Vec<(String, String)>> = described
            .global_secondary_indexes()
            .iter()
            .map(|i| (i.index_name().unwrap().to_owned(), keys(i.key_schema())))
            .collect();
        let declared_indexes: BTreeMap<String, Vec<(String, String)>> =
            table["GlobalSecondaryIndexes"]
                .as_sequence()
                .map(|s| {
                    s.iter()
                        .map(|i| {
                            (
                                i["IndexName"].as_str().unwrap().to_owned(),
                                declared_keys(i),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        assert_eq!(local_indexes, declared_indexes, "{logical_id} indexes");
    }
}

/// The local user pool has the groups and the client the auth flows the
/// template declares.
async fn assert_cognito_as_declared(sdk: &SdkConfig, template: &Template, stack: &LocalStack) {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let pool = stack.user_pool_id().unwrap();
    let groups = cognito
        .list_groups()
        .user_pool_id(pool)
        .send()
        .await
        .unwrap();
    let local_groups: BTreeSet<String> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_owned))
        .collect();
    let declared_groups: BTreeSet<String> = template
        .resources_of_type("AWS::Cognito::UserPoolGroup")
        .map(|(_, g)| g["GroupName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(local_groups, declared_groups);
    let client = cognito
        .describe_user_pool_client()
        .user_pool_id(pool)
        .client_id(stack.get("UserPoolClient").unwrap())
        .send()
        .await
        .unwrap();
    let flows: BTreeSet<String> = client
        .user_pool_client()
        .unwrap()
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    let (_, declared_client) = template
        .resources_of_type("AWS::Cognito::UserPoolClient")
        .next()
        .unwrap();
    let declared_flows: BTreeSet<String> = declared_client["ExplicitAuthFlows"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(flows, declared_flows);
}

fn openapi_routes() -> BTreeSet<(String, String)> {
    let doc: Value = yaml_serde::from_str(&workspace_file("openapi.yaml")).unwrap();
    let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| methods.contains(&m.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn template_openapi_and_the_local_api_serve_the_same_routes() {
    let template = template();
    let routes = template.routes().unwrap();
    let in_template: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let in_openapi = openapi_routes();
    let none = Vec::<&(String, String)>::new();
    let missing_in_openapi: Vec<_> = in_template.difference(&in_openapi).collect();
    assert_eq!(
        missing_in_openapi, none,
        "routes of template.yaml missing from openapi.yaml"
    );
    let missing_in_template: Vec<_> = in_openapi.difference(&in_template).collect();
    assert_eq!(
        missing_in_template, none,
        "routes of openapi.yaml missing from template.yaml"
    );

    // Each route reaches a handler of its function: a protected one is the
    // authorizer's 401 without a token, and with a valid one is let through
    // to the function, which must not answer route_not_found (the gateway's
    // answer to an unknown route, and the function's to one it does not match).
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for route in &routes {
        let (method, path) = (&route.method, route.path.replace("{id}", "some-id"));
        let request = |token| app.request(method.parse().unwrap(), &path, token);
        let mut answer = app.send_unchecked(request(None)).await;
        if route.authorized {
            answer.expect_error(401, "unauthorized");
            answer = app.send_unchecked(request(Some(&admin))).await;
            assert_ne!(answer.status, 401, "{method} {path} with a valid token");
        }
        let served = answer.code() != Some("route_not_found");
        assert!(served, "{method} {} reaches no handler", route.path);
    }
}
