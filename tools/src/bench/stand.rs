//! Where the bench runs a binary: a moto server of its own (over HTTP or
//! TLS), a stack bootstrapped in it from template.yaml and seeded, and the
//! sample events with ids of that stack.

use super::options::Options;
use super::{INVOCATION_TIMEOUT, Subject, workspace};
use crate::events::{SAMPLE_ORDER_ID, SAMPLE_PRODUCT_ID, SAMPLE_STORE_ID};
use kiosk_local::bootstrap::{BoxError, LocalStack};
use kiosk_local::env_file::EnvVars;
use kiosk_local::runtime_api::Outcome;
use kiosk_local::template::Template;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Http,
    Tls,
}

impl Transport {
    pub(super) fn name(self) -> &'static str {
        match self {
            Transport::Http => "HTTP",
            Transport::Tls => "TLS",
        }
    }
}

/// A moto server of the bench's own, killed on drop.
struct Emulator {
    _child: tokio::process::Child,
    endpoint: String,
}

impl Emulator {
    async fn start(options: &Options, transport: Transport) -> Result<Emulator, BoxError> {
        let moto = workspace().join(".venv").join("bin").join("moto_server");
        if !moto.exists() {
            return Err(format!("{} is missing: run `make venv`", moto.display()).into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = tokio::process::Command::new(moto);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if transport == Transport::Tls {
            command.arg("-c").arg(&options.tls_cert);
            command.arg("-k").arg(&options.tls_key);
        }
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let scheme = match transport {
            Transport::Http => "http",
            Transport::Tls => "https",
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Emulator {
                    _child: child,
                    endpoint: format!("{scheme}://127.0.0.1:{port}"),
                });
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("moto exited ({status}) before listening").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("moto did not listen on port {port} within 30 s").into())
    }
}

/// A bootstrapped stack in an emulator of its own, and what each binary
/// runs with there.
pub(super) struct Stand {
    _emulator: Emulator,
    env: EnvVars,
    pub(super) events: HashMap<String, Value>,
    /// The sizes of the items the hot paths touch, read off this stack.
    pub(super) sizes: super::cost::Sizes,
}

impl Stand {
    pub(super) async fn prepare(
        options: &Options,
        template: &Template,
        subjects: &[Subject],
        transport: Transport,
    ) -> Result<Stand, BoxError> {
        let emulator = Emulator::start(options, transport).await?;
        let sdk = kiosk_local::emulator_sdk(&emulator.endpoint).await;
        let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        // One kiosk signs a guest in for every cold start and warm call
        // (about 570 a run, within a minute): over the template's default
        // per-kiosk limit, so the stand sets it to its maximum.
        let mut overrides = kiosk_local::Overrides::default();
        overrides
            .parameters
            .insert("KioskSigninsPerMinute".into(), "1000".into());
        let (stack, _) = kiosk_local::start_with(&sdk, template, &prefix, &[], &overrides).await?;
        kiosk_local::seed_demo_menu(&sdk, &stack).await?;
        let env = kiosk_local::env_file::resolve(template, &stack, &emulator.endpoint)?;
        let mut stand = Stand {
            _emulator: emulator,
            env,
            events: HashMap::new(),
            sizes: super::cost::Sizes {
                order: 0,
                menu: 0,
                products: 0,
                store: 0,
            },
        };
        let ids = stand.sample_ids(options, template, &sdk, &stack).await?;
        stand.sizes = sizes(&sdk, &stack, &ids).await?;
        let token = stand.guest_token(options, template).await?;
        for subject in subjects {
            let mut event = crate::events::load(subject.event_file, &ids)?;
            if event.get("type").and_then(Value::as_str) == Some("TOKEN") {
                event["authorizationToken"] = format!("Bearer {token}").into();
            }
            stand.events.insert(subject.binary.clone(), event);
        }
        Ok(stand)
    }

    /// The environment of `binary`: its function's in the template (nothing
    /// for a floor), and the bench's `SSL_CERT_FILE`, which trusts moto's
    /// certificate. Nothing else of the bench's own environment.
    pub(super) fn env_of(
        &self,
        template: &Template,
        binary: &str,
    ) -> Result<Vec<(String, String)>, BoxError> {
        let mut env = Vec::new();
        if let Some(roots) = std::env::var_os("SSL_CERT_FILE") {
            env.push((
                "SSL_CERT_FILE".to_owned(),
                roots.to_string_lossy().into_owned(),
            ));
        }
        let functions = template.functions()?;
        if let Some((function, _)) = functions.iter().find(|(_, b)| *b == binary) {
            let vars = self
                .env
                .get(function)
                .ok_or_else(|| format!("no environment for {function}"))?;
            env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(env)
    }

    /// Runs `binary` once on `event`; its answer's JSON body.
    async fn call(
        &self,
        options: &Options,
        template: &Template,
        binary: &str,
        event: &Value,
    ) -> Result<Value, BoxError> {
        let env = self.env_of(template, binary)?;
        let run = kiosk_local::runtime_api::invoke(
            &options.bins.join(binary),
            event,
            &env,
            INVOCATION_TIMEOUT,
        )
        .await?;
        accepted(binary, &run.outcome).map_err(|e| format!("{e}\n{}", tail(&run.logs)))?;
        let Outcome::Response(response) = run.outcome else {
            return Err(format!("{binary} answered no response").into());
        };
        let body = response["body"].as_str().unwrap_or("null");
        Ok(serde_json::from_str(body)?)
    }

    /// A product, a store, and an order of the sample events' guest placed
    /// through the orders binary: the ids the events name, of this stack.
    async fn sample_ids(
        &self,
        options: &Options,
        template: &Template,
        sdk: &aws_config::SdkConfig,
        stack: &LocalStack,
    ) -> Result<HashMap<&'static str, String>, BoxError> {
        let product = crate::events::create_product(sdk, stack).await?;
        let store = crate::events::create_store(sdk, stack).await?;
        let mut ids = HashMap::from([(SAMPLE_PRODUCT_ID, product), (SAMPLE_STORE_ID, store)]);
        let checkout = crate::events::load("orders/post-orders.json", &ids)?;
        let order = self.call(options, template, "orders", &checkout).await?;
        let id = order["id"].as_str().ok_or("the placed order has no id")?;
        ids.insert(SAMPLE_ORDER_ID, id.to_owned());
        Ok(ids)
    }

    /// A guest token of this stack, signed by the authenticate binary.
    async fn guest_token(
        &self,
        options: &Options,
        template: &Template,
    ) -> Result<String, BoxError> {
        let event = crate::events::load("authenticate/post-auth-guest.json", &HashMap::new())?;
        let tokens = self.call(options, template, "authenticate", &event).await?;
        let token = tokens["access_token"]
            .as_str()
            .ok_or("the guest sign-in answered no access_token")?;
        Ok(token.to_owned())
    }
}

/// The sizes of the order the bench placed, of the whole menu (the seeded
/// demo menu and the bench's product) and of the store's record, read
/// straight from the stack's tables.
async fn sizes(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
    ids: &HashMap<&'static str, String>,
) -> Result<super::cost::Sizes, BoxError> {
    use super::cost::item_bytes;
    use aws_sdk_dynamodb::types::AttributeValue;
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let id = |sample: &str| {
        ids.get(sample)
            .cloned()
            .ok_or_else(|| format!("no id for {sample}"))
    };
    let order = client
        .get_item()
        .table_name(stack.get("OrdersTable")?)
        .key("id", AttributeValue::S(id(SAMPLE_ORDER_ID)?))
        .send()
        .await?
        .item
        .ok_or("the placed order is not in its table")?;
    let store = client
        .get_item()
        .table_name(stack.get("StoresTable")?)
        .set_key(Some(shared::store::stores::StoreStore::key(
            &shared::domain::StoreId::parse(&id(SAMPLE_STORE_ID)?).ok_or("a bad store id")?,
        )))
        .send()
        .await?
        .item
        .ok_or("the store is not in its table")?;
    let products = client
        .query()
        .table_name(stack.get("ProductsTable")?)
        .index_name(shared::store::products::MENU_INDEX)
        .key_condition_expression("menu_pk = :menu")
        .expression_attribute_values(":menu", AttributeValue::S("MENU".into()))
        .send()
        .await?
        .items
        .unwrap_or_default();
    Ok(super::cost::Sizes {
        order: item_bytes(&order),
        menu: products.iter().map(item_bytes).sum(),
        products: products.len(),
        store: item_bytes(&store),
    })
}

/// Whether `outcome` is a success of `binary`: a 200 of an HTTP function, an
/// Allow of the authorizer, the event itself of the runtime floor.
pub(super) fn accepted(binary: &str, outcome: &Outcome) -> Result<(), String> {
    let response = match outcome {
        Outcome::Response(response) => response,
        Outcome::Error(error) => return Err(format!("{binary} answered an error: {error}")),
    };
    if let Some(status) = response.get("statusCode")
        && status != 200
        && status != 201
    {
        return Err(format!("{binary} answered {status}: {}", response["body"]));
    }
    if let Some(policy) = response.get("policyDocument")
        && policy["Statement"][0]["Effect"] != "Allow"
    {
        return Err(format!("{binary} did not allow: {policy}"));
    }
    Ok(())
}

fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_are_a_200_an_allow_or_the_event_back() {
        let ok = |v: Value| accepted("f", &Outcome::Response(v));
        assert!(ok(serde_json::json!({"statusCode": 200, "body": "{}"})).is_ok());
        assert!(ok(serde_json::json!({"statusCode": 503, "body": "{}"})).is_err());
        let allow = serde_json::json!({"policyDocument": {"Statement": [{"Effect": "Allow"}]}});
        assert!(ok(allow).is_ok());
        let deny = serde_json::json!({"policyDocument": {"Statement": [{"Effect": "Deny"}]}});
        assert!(ok(deny).is_err());
        assert!(ok(serde_json::json!({"type": "TOKEN"})).is_ok());
        assert!(accepted("f", &Outcome::Error(serde_json::json!({}))).is_err());
    }
}
