//! Stacks in the emulator: `spawn_app` (a stack of its own under a unique
//! prefix, bootstrapped from template.yaml, with the staff users, a Mercado
//! Pago stand-in and the local API on free ports) and its variants, a bare
//! stack without the API, a moto server of a test's own to pause or kill,
//! and what a test reads from a stack directly.

use super::proxy::{Relay, is_write, start_proxy};
use super::{ADMIN_PASSWORD, KITCHEN_PASSWORD, MANAGER_PASSWORD, OUTSIDER_PASSWORD, TestApp};
use kiosk_local::bootstrap::{LocalStack, StaffUser};
use kiosk_local::template::Template;

/// The emulator of the running test. `make test` starts two
/// (`KIOSK_EMULATOR_URLS`: moto serves one request at a time, so the suite
/// spreads over one per core); a test always gets the same one, picked by
/// its name (libtest runs each test on a thread named after it), so its
/// stack, its mail and its direct reads are in one emulator.
pub fn emulator_endpoint() -> String {
    let first = std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: these tests need the emulator (run them with `make test`)",
    );
    let all = std::env::var("KIOSK_EMULATOR_URLS").unwrap_or_default();
    let all: Vec<&str> = all.split_whitespace().collect();
    if all.len() < 2 {
        return first;
    }
    let thread = std::thread::current();
    let name = thread.name().unwrap_or_default();
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let at = usize::try_from(hash % all.len() as u64).unwrap_or(0);
    all[at].to_owned()
}

pub fn template() -> Template {
    Template::load(&Template::default_path()).unwrap()
}

pub fn unique_prefix() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A file of the workspace (template.yaml, openapi.yaml, events/...).
pub fn workspace_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

pub fn staff_users() -> Vec<StaffUser> {
    vec![
        StaffUser {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            group: Some("admin".into()),
        },
        StaffUser {
            username: "kitchen".into(),
            password: KITCHEN_PASSWORD.into(),
            group: Some("kitchen".into()),
        },
        StaffUser {
            username: "manager".into(),
            password: MANAGER_PASSWORD.into(),
            group: Some("manager".into()),
        },
        StaffUser {
            username: "outsider".into(),
            password: OUTSIDER_PASSWORD.into(),
            group: None,
        },
    ]
}

pub async fn spawn_app() -> TestApp {
    spawn_app_through(&emulator_endpoint()).await
}

/// [`spawn_app`] with template parameters set (`StaffMfa`, ...).
pub async fn spawn_app_with(parameters: &[(&str, &str)]) -> TestApp {
    spawn_app_configured(&emulator_endpoint(), parameters).await
}

/// A stack of its own (no staff users) whose AWS calls go to `endpoint`, for
/// the tests that call the functions' code or the emulator without the local API.
pub async fn bare_stack(endpoint: &str) -> (aws_config::SdkConfig, Template, LocalStack) {
    let sdk = kiosk_local::emulator_sdk(endpoint).await;
    let template = template();
    let started = kiosk_local::start(&sdk, &template, &unique_prefix(), &[]).await;
    (sdk, template, started.unwrap().0)
}

/// The store of a test stack, "Centro", open every day all day in São Paulo,
/// written as `make dev` opens its demo stores; the stack's `kitchen` and
/// `manager` belong to it. Its id.
async fn home_store(sdk: &aws_config::SdkConfig, stack: &LocalStack) -> String {
    use shared::domain::store::{Hours, StoreDraft, Timezone};
    let stores = shared::store::stores::StoreStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("StoresTable").unwrap(),
    );
    let draft = StoreDraft {
        name: "Centro".into(),
        timezone: Timezone::parse("America/Sao_Paulo").unwrap(),
        hours: Hours::always(),
        paused: false,
        mercadopago_pos_id: None,
    };
    let store = stores.create(draft).await.unwrap();
    for username in ["kitchen", "manager"] {
        kiosk_local::assign_store(sdk, stack, username, &store.id)
            .await
            .unwrap();
    }
    store.id.to_string()
}

/// A stack and the local API whose AWS calls go to `endpoint`.
pub(super) async fn spawn_app_through(endpoint: &str) -> TestApp {
    spawn_app_configured(endpoint, &[]).await
}

/// A stack and the local API whose AWS calls go to `endpoint`, with template
/// parameters set (`KioskSigninsPerMinute`, ...).
pub(super) async fn spawn_app_configured(endpoint: &str, parameters: &[(&str, &str)]) -> TestApp {
    let sdk = kiosk_local::emulator_sdk(endpoint).await;
    let template = template();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let config = kiosk_local::mercadopago::StandInConfig::local(Some(format!(
        "{base_url}/webhooks/mercadopago"
    )));
    let (addr, stand_in) = kiosk_local::mercadopago::spawn(config.clone())
        .await
        .unwrap();
    let mut overrides = kiosk_local::Overrides::mercadopago(&config, &format!("http://{addr}"));
    // As `make dev`: staff without TOTP sign in with a password, unless a
    // test asks for `StaffMfa=required`.
    overrides
        .parameters
        .insert("StaffMfa".to_owned(), "optional".to_owned());
    for (name, value) in parameters {
        overrides
            .parameters
            .insert((*name).to_owned(), (*value).to_owned());
    }
    let (stack, router) = kiosk_local::start_with(
        &sdk,
        &template,
        &unique_prefix(),
        &staff_users(),
        &overrides,
    )
    .await
    .unwrap();
    let store = home_store(&sdk, &stack).await;
    tokio::spawn(async move { axum::serve(listener, router).await });
    TestApp {
        base_url,
        http: reqwest::Client::new(),
        stack,
        sdk,
        template,
        mercadopago: tokio::sync::Mutex::new(stand_in),
        mercadopago_url: format!("http://{addr}"),
        mercadopago_config: config,
        owners: Default::default(),
        kiosk: Default::default(),
        store: tokio::sync::OnceCell::new_with(Some(store)),
    }
}

/// A moto server of a test's own, so that pausing or stopping it hurts no
/// other test (they share the emulator of `with-emulator.sh`).
pub struct OwnEmulator {
    child: tokio::process::Child,
    pub endpoint: String,
}

impl OwnEmulator {
    pub async fn start() -> OwnEmulator {
        let moto = workspace_path(".venv/bin/moto_server");
        assert!(
            moto.exists(),
            "{} is missing: run `make venv`",
            moto.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return OwnEmulator { child, endpoint };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto did not start on port {port}");
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Freezes the emulator (SIGSTOP): connections still open, nothing answers.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws it (SIGCONT): what it had received is answered now.
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }

    /// Kills it: connections are refused from now on.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// A stack on this emulator and the local API in front of it.
    pub async fn spawn_app(&self) -> TestApp {
        spawn_app_through(&self.endpoint).await
    }

    /// [`Self::spawn_app`], its AWS calls through a tripwire: once armed, the
    /// first call of `operation` (`TransactWriteItems`, ...) pauses the
    /// emulator just before it is forwarded, so that it stalls in flight.
    /// Writes are made one at a time (moto's are not isolated; see
    /// [`super::spawn_app_with_isolated_writes`]): the stalled one lands before the
    /// next write is let through, as DynamoDB would order them.
    pub async fn spawn_app_with_tripwire(&self, operation: &'static str) -> (TestApp, Tripwire) {
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (pid, trip) = (self.pid(), armed.clone());
        let on_call = move |target: &str| {
            if target.ends_with(operation) && trip.swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                signal(pid, "-STOP");
            }
            if is_write(target) {
                Relay::Serialized
            } else {
                Relay::Forward
            }
        };
        let endpoint = start_proxy(self.endpoint.clone(), on_call).await;
        (spawn_app_through(&endpoint).await, Tripwire(armed))
    }
}

/// See [`OwnEmulator::spawn_app_with_tripwire`].
pub struct Tripwire(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Tripwire {
    pub fn arm(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid} failed");
}

impl TestApp {
    /// The environment template.yaml gives `function`, resolved for this stack.
    pub fn function_env(&self, function: &str) -> std::collections::HashMap<String, String> {
        self.template
            .function_env(function, &self.stack.refs)
            .unwrap()
    }

    /// Where this stack's token keys are (as `kiosk_local::keys` names them).
    pub fn key_names(&self) -> kiosk_local::keys::KeyNames {
        kiosk_local::keys::KeyNames::under(&self.stack.prefix)
    }

    /// The private key the signing secret holds now (`AWSCURRENT`).
    pub async fn signing_key(&self) -> shared::domain::jwk::PrivateKey {
        let value = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .get_secret_value()
            .secret_id(self.key_names().secret)
            .send()
            .await
            .unwrap();
        shared::domain::jwk::PrivateKey::from_jwk(value.secret_string().unwrap().as_bytes())
            .unwrap()
    }

    /// `function`'s environment as a deploy made now would resolve it: the
    /// SSM-typed parameters (the public keys) read again.
    pub async fn redeployed_env(&self, function: &str) -> shared::config::Env {
        let mut refs = self.stack.refs.clone();
        refs.insert(
            kiosk_local::bootstrap::PUBLIC_KEYS_PARAMETER,
            self.key_names().parameter,
        );
        kiosk_local::bootstrap::resolve_ssm_parameters(&self.sdk, &self.template, &mut refs)
            .await
            .unwrap();
        shared::config::Env::Map(self.template.function_env(function, &refs).unwrap())
    }

    /// The ticket slots (`ticket#<store>#<n>` items) `order_id` holds, read straight
    /// from the table (a Scan: test code only).
    pub async fn ticket_slots_of(&self, order_id: impl std::fmt::Display) -> Vec<String> {
        let output = aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(self.stack.get("OrdersTable").unwrap())
            .filter_expression("order_id = :id AND begins_with(id, :ticket)")
            .expression_attribute_values(
                ":id",
                aws_sdk_dynamodb::types::AttributeValue::S(order_id.to_string()),
            )
            .expression_attribute_values(
                ":ticket",
                aws_sdk_dynamodb::types::AttributeValue::S("ticket#".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        output
            .items()
            .iter()
            .filter_map(|item| item.get("id")?.as_s().ok().cloned())
            .collect()
    }
}

/// A message the emulator's SES accepted (`GET /moto-api/data.json`, `ses`
/// → `Message`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailedMessage {
    pub source: String,
    pub subject: String,
    pub body: String,
    pub destinations: MailDestinations,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailDestinations {
    #[serde(rename = "ToAddresses", default)]
    pub to: Vec<String>,
}

impl MailedMessage {
    /// The first run of exactly six digits in the body: the code.
    pub fn code(&self) -> Option<String> {
        self.body
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .map(str::to_owned)
    }
}

/// Every message the emulator's SES accepted for `address`, oldest first.
/// (SES is the emulator's, shared by every stack: tests give each customer
/// an address of their own.)
pub async fn mail_to(address: &str) -> Vec<MailedMessage> {
    let url = format!("{}/moto-api/data.json", emulator_endpoint());
    // The dump walks every service's state while other tests write to it: a
    // dump taken mid-write fails (500) and is taken again.
    let mut data = None;
    for _ in 0..10 {
        let response = reqwest::get(&url).await.unwrap();
        if response.status().is_success()
            && let Ok(json) = response.json::<serde_json::Value>().await
        {
            data = Some(json);
            break;
        }
    }
    let data = data.expect("the emulator's data.json could not be read");
    let messages: Vec<MailedMessage> =
        serde_json::from_value(data["ses"]["Message"].clone()).unwrap_or_default();
    messages
        .into_iter()
        .filter(|m| m.destinations.to.iter().any(|to| to == address))
        .collect()
}

/// The code of the latest message mailed to `address`, which must exist.
pub async fn latest_code_sent_to(address: &str) -> String {
    let mail = mail_to(address).await;
    let last = mail
        .last()
        .unwrap_or_else(|| panic!("no mail was sent to {address}"));
    last.code()
        .unwrap_or_else(|| panic!("the mail to {address} has no code: {}", last.body))
}

impl TestApp {
    /// Whether the sessions table holds a code of `customer_id`.
    pub async fn holds_code_of(&self, customer_id: &str) -> bool {
        use aws_sdk_dynamodb::types::AttributeValue;
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(self.stack.get("SessionsTable").unwrap())
            .key("pk", AttributeValue::S(format!("verify#{customer_id}")))
            .key("sk", AttributeValue::S("code".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item()
            .is_some()
    }

    /// Moves the time `customer_id`'s stored code was sent `seconds` back,
    /// straight in the sessions table.
    pub async fn age_code(&self, customer_id: &str, seconds: i64) {
        use aws_sdk_dynamodb::types::AttributeValue;
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .update_item()
            .table_name(self.stack.get("SessionsTable").unwrap())
            .key("pk", AttributeValue::S(format!("verify#{customer_id}")))
            .key("sk", AttributeValue::S("code".into()))
            .update_expression("SET sent_at = sent_at - :s")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":s", AttributeValue::N(seconds.to_string()))
            .send()
            .await
            .unwrap();
    }

    /// Moves the deadline of `customer_id`'s stored code to `expires_at`
    /// (Unix seconds), straight in the sessions table.
    pub async fn set_code_expiry(&self, customer_id: &str, expires_at: i64) {
        use aws_sdk_dynamodb::types::AttributeValue;
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .update_item()
            .table_name(self.stack.get("SessionsTable").unwrap())
            .key("pk", AttributeValue::S(format!("verify#{customer_id}")))
            .key("sk", AttributeValue::S("code".into()))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .unwrap();
    }
}
