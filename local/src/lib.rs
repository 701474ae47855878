//! The local stack: bootstrap of the emulated AWS resources and the local API
//! that serves template.yaml's routes, authorizer in front, with the real
//! handlers. Used by `make dev` and by the end-to-end tests.

pub mod bootstrap;
pub mod env_file;
pub mod keys;
pub mod mercadopago;
pub mod runtime_api;
pub mod schedule;
pub mod server;
pub mod template;

use bootstrap::{BoxError, LocalStack, StaffUser};
use template::Template;

/// The `main` of the local stack's programs (`kiosk-local`, and
/// `kiosk-tools`): logs to stderr, filtered by `LOG_LEVEL` (`info` by
/// default), runs `command` on the program's arguments and prints its error
/// after the program's `name`.
pub async fn command_main(
    name: &str,
    command: impl AsyncFnOnce(&[&str]) -> Result<(), BoxError>,
) -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match command(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Bootstraps a stack named `prefix` in the emulator and returns the local API
/// for it, ready to serve.
pub async fn start(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
) -> Result<(LocalStack, axum::Router), BoxError> {
    start_with(sdk, template, prefix, staff, &Overrides::default()).await
}

/// What a local stack sets rather than takes from the template: the values of
/// some secrets (by logical id) and of some parameters (by name).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub secrets: std::collections::HashMap<String, String>,
    pub parameters: std::collections::HashMap<String, String>,
}

impl Overrides {
    /// The Mercado Pago stand-in at `base_url` as the stack's Mercado Pago:
    /// its URL and the credentials it checks and signs with.
    pub fn mercadopago(config: &mercadopago::StandInConfig, base_url: &str) -> Self {
        let mut overrides = Self::default();
        overrides
            .secrets
            .insert("MercadoPagoSecret".into(), config.secret_string());
        overrides
            .parameters
            .insert("MercadoPagoApiUrl".into(), base_url.to_owned());
        overrides
    }
}

/// [`start`], with [`Overrides`].
pub async fn start_with(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
    overrides: &Overrides,
) -> Result<(LocalStack, axum::Router), BoxError> {
    let stack = bootstrap::bootstrap(sdk, template, prefix, staff, overrides).await?;
    let api = server::LocalApi::new(template, &stack, sdk)?;
    Ok((stack, api.router()))
}

/// [`start_with`], and the functions the template runs on a schedule (for
/// [`schedule::spawn`]).
pub async fn start_with_schedules(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
    staff: &[StaffUser],
    overrides: &Overrides,
) -> Result<(LocalStack, axum::Router, Vec<schedule::Schedule>), BoxError> {
    let stack = bootstrap::bootstrap(sdk, template, prefix, staff, overrides).await?;
    let api = server::LocalApi::new(template, &stack, sdk)?;
    let schedules = api
        .schedules(template)?
        .into_iter()
        .map(|(function, every, handler)| schedule::Schedule {
            function,
            every,
            handler,
        })
        .collect();
    Ok((stack, api.router(), schedules))
}

/// The SDK configuration for the emulator at `endpoint`, with moto's dummy
/// credentials: the same loader the functions use (its client and its bounds
/// on every call, [`shared::config::sdk_bounds`]), pointed elsewhere.
pub async fn emulator_sdk(endpoint: &str) -> aws_config::SdkConfig {
    shared::config::sdk_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "kiosk-local",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The demo stores `make dev` opens: "Centro", open every day all day (so
/// the walkthrough works at any hour), and "Shopping", open as a mall is
/// (10:00-22:00, Sundays 14:00-20:00), both in São Paulo. Their ids, by name.
pub async fn seed_demo_stores(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
) -> Result<Vec<(String, shared::domain::StoreId)>, BoxError> {
    use shared::domain::store::{Hours, StoreDraft, Timezone};
    let stores = shared::store::stores::StoreStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("StoresTable")?,
    );
    let day = |hours: &str| -> Vec<[String; 2]> {
        hours
            .split_once('-')
            .map(|(a, b)| vec![[a.to_owned(), b.to_owned()]])
            .unwrap_or_default()
    };
    let mall = serde_json::json!({
        "mon": day("10:00-22:00"), "tue": day("10:00-22:00"), "wed": day("10:00-22:00"),
        "thu": day("10:00-22:00"), "fri": day("10:00-22:00"), "sat": day("10:00-22:00"),
        "sun": day("14:00-20:00"),
    });
    let sao_paulo = Timezone::parse("America/Sao_Paulo")?;
    let mut opened = Vec::new();
    for (name, hours) in [
        ("Centro", Hours::always()),
        ("Shopping", Hours::parse(&mall)?),
    ] {
        let store = stores
            .create(StoreDraft {
                name: name.to_owned(),
                timezone: sao_paulo.clone(),
                hours,
                paused: false,
                mercadopago_pos_id: None,
            })
            .await?;
        opened.push((store.name, store.id));
    }
    Ok(opened)
}

/// Binds staff user `username` to `store` (`custom:store_id`), as an admin
/// does with `aws cognito-idp admin-update-user-attributes`.
pub async fn assign_store(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
    username: &str,
    store: &shared::domain::StoreId,
) -> Result<(), BoxError> {
    aws_sdk_cognitoidentityprovider::Client::new(sdk)
        .admin_update_user_attributes()
        .user_pool_id(stack.user_pool_id()?)
        .username(username)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("custom:store_id")
                .value(store.as_str())
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Seeds the menu table of `stack` with `local/demo-menu.json`, through the
/// same validation and store the products function uses. The items come
/// first; a combo's slots name them as `"@<name>"`, replaced by their ids
/// once they exist, and the combo is checked against them as the products
/// function checks it.
pub async fn seed_demo_menu(
    sdk: &aws_config::SdkConfig,
    stack: &LocalStack,
) -> Result<usize, BoxError> {
    use shared::domain::product::{ProductBody, ProductDraft};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo-menu.json");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let store = shared::store::products::ProductStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("ProductsTable")?,
    );
    let count = entries.len();
    let (combos, items): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|entry| entry.get("kind").and_then(|k| k.as_str()) == Some("combo"));
    let mut created = std::collections::HashMap::new();
    for entry in items {
        let draft = ProductDraft::try_from(serde_json::from_value::<ProductBody>(entry)?)?;
        let product = store.create(draft).await?;
        created.insert(product.id.clone(), product);
    }
    for mut entry in combos {
        for slot in entry["slots"].as_array_mut().into_iter().flatten() {
            for option in slot["options"].as_array_mut().into_iter().flatten() {
                let name = option["product_id"].as_str().unwrap_or_default();
                let name = name
                    .strip_prefix('@')
                    .ok_or("a demo combo names items as @<name>")?;
                let id = created
                    .values()
                    .find(|p| p.name == name)
                    .map(|p| p.id.to_string())
                    .ok_or_else(|| format!("the demo menu has no item {name}"))?;
                option["product_id"] = serde_json::Value::String(id);
            }
        }
        let draft = ProductDraft::try_from(serde_json::from_value::<ProductBody>(entry)?)?;
        draft.check_on(None, &created)?;
        store.create(draft).await?;
    }
    Ok(count)
}
