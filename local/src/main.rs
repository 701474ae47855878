//! `kiosk-local serve`: bootstraps the emulated AWS resources and serves the
//! whole API on 127.0.0.1 (what `make dev` runs once moto is up); `kiosk-local
//! invoke FUNCTION EVENT_FILE` (what `make invoke` runs). The bench and the
//! production key commands are `kiosk-tools` (tools/).

// The SDK futures nest deeper than the compiler's default layout limit.
#![recursion_limit = "256"]

use kiosk_local::bootstrap::StaffUser;
use kiosk_local::template::Template;
use std::process::ExitCode;

const DEFAULT_ADMIN_PASSWORD: &str = "AdminLocal123";
const DEFAULT_KITCHEN_PASSWORD: &str = "KitchenLocal123";
const DEFAULT_MANAGER_PASSWORD: &str = "ManagerLocal123";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    kiosk_local::command_main("kiosk-local", run).await
}

const USAGE: &str =
    "usage: kiosk-local serve                   (settings from the environment; see README)
       kiosk-local invoke FUNCTION EVENT_FILE  (FUNCTION: a function's logical id in template.yaml)";

async fn run(args: &[&str]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match args {
        ["serve"] => serve().await,
        ["invoke", function, event] => invoke(function, event).await,
        _ => Err(USAGE.into()),
    }
}

/// The Docker-free twin of `sam local invoke FUNCTION --event EVENT_FILE
/// --env-vars env.json`: runs the function's built binary (target/debug) on the
/// event over an emulated Lambda Runtime API, with env.json's variables for
/// it and the caller's AWS settings (credentials, region, AWS_ENDPOINT_URL).
async fn invoke(
    function: &str,
    event_file: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(&Template::default_path())?;
    let binary = template
        .functions()?
        .remove(function)
        .ok_or_else(|| format!("template.yaml has no function {function}"))?;
    let env_json: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(root.join("env.json"))?)?;
    let env: Vec<(String, String)> = env_json
        .get(function)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(event_file)?)?;
    let binary = target.join("debug").join(&binary);
    let run =
        kiosk_local::runtime_api::invoke(&binary, &event, &env, std::time::Duration::from_secs(30))
            .await?;
    eprint!("{}", run.logs);
    match run.outcome {
        kiosk_local::runtime_api::Outcome::Response(response) => {
            println!("{}", serde_json::to_string_pretty(&response)?)
        }
        kiosk_local::runtime_api::Outcome::Error(error) => {
            println!("{}", serde_json::to_string_pretty(&error)?);
            return Err("the function answered an error".into());
        }
    }
    Ok(())
}

async fn serve() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Refuse to bootstrap into a real account by accident.
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| "AWS_ENDPOINT_URL is not set: the local API runs against the emulator (make dev sets it)")?;
    let port: u16 = setting("PORT", "3000")
        .parse()
        .map_err(|_| "PORT is not a port number")?;
    let template = Template::load(&Template::default_path())?;
    let (mercadopago, _stand_in) = kiosk_local::mercadopago::spawn_for_local_api(port).await?;
    // The chain's admin; a manager and a kitchen of each demo store (bound to
    // their store once it is opened, below). The other store's staff share
    // the passwords of the settings.
    let staff_user = |username: &str, setting_name: &str, default: &str, group: &str| StaffUser {
        username: username.into(),
        password: setting(setting_name, default),
        group: Some(group.into()),
    };
    let staff = [
        staff_user(
            "admin",
            "DEV_ADMIN_PASSWORD",
            DEFAULT_ADMIN_PASSWORD,
            "admin",
        ),
        staff_user(
            "manager",
            "DEV_MANAGER_PASSWORD",
            DEFAULT_MANAGER_PASSWORD,
            "manager",
        ),
        staff_user(
            "kitchen",
            "DEV_KITCHEN_PASSWORD",
            DEFAULT_KITCHEN_PASSWORD,
            "kitchen",
        ),
        staff_user(
            "manager-shopping",
            "DEV_MANAGER_PASSWORD",
            DEFAULT_MANAGER_PASSWORD,
            "manager",
        ),
        staff_user(
            "kitchen-shopping",
            "DEV_KITCHEN_PASSWORD",
            DEFAULT_KITCHEN_PASSWORD,
            "kitchen",
        ),
    ];
    let sdk = kiosk_local::emulator_sdk(&endpoint).await;
    let prefix = format!("dev-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut overrides = kiosk_local::Overrides::mercadopago(
        &kiosk_local::mercadopago::StandInConfig::for_local_api(port)?,
        &format!("http://{mercadopago}"),
    );
    // Mercado Pago's real test environment instead of the stand-in: its URL,
    // a test access token and a point of sale of the test seller.
    if let Some(api_url) = std::env::var("MERCADOPAGO_API_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let token = std::env::var("DEV_MERCADOPAGO_ACCESS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or("MERCADOPAGO_API_URL is set: DEV_MERCADOPAGO_ACCESS_TOKEN must hold a test access token")?;
        let webhook_secret = setting(
            "DEV_MERCADOPAGO_WEBHOOK_SECRET",
            kiosk_local::mercadopago::DEFAULT_WEBHOOK_SECRET,
        );
        overrides.secrets.insert(
            "MercadoPagoSecret".into(),
            serde_json::json!({"access_token": token, "webhook_secret": webhook_secret})
                .to_string(),
        );
        overrides
            .parameters
            .insert("MercadoPagoApiUrl".into(), api_url);
        if let Ok(pos) = std::env::var("MERCADOPAGO_EXTERNAL_POS_ID") {
            overrides.parameters.insert("MercadoPagoPosId".into(), pos);
        }
    }
    if let Ok(timeout) = std::env::var("ORDER_PAYMENT_TIMEOUT_SECONDS") {
        overrides
            .parameters
            .insert("OrderPaymentTimeoutSeconds".into(), timeout);
    }
    // TOTP is the deployed default; locally staff sign in with a password
    // unless STAFF_MFA=required, so the walkthrough stays short.
    overrides
        .parameters
        .insert("StaffMfa".into(), setting("STAFF_MFA", "optional"));
    for (setting, parameter) in [
        ("STAFF_TOKEN_TTL_SECONDS", "StaffTokenTtlSeconds"),
        ("KIOSK_SIGNINS_PER_MINUTE", "KioskSigninsPerMinute"),
        ("OPEN_ORDERS_PER_CUSTOMER", "OpenOrdersPerCustomer"),
        ("OPEN_ORDERS_PER_KIOSK", "OpenOrdersPerKiosk"),
    ] {
        if let Ok(value) = std::env::var(setting) {
            overrides.parameters.insert(parameter.into(), value);
        }
    }
    let expiry_every = match std::env::var("EXPIRY_INTERVAL_SECONDS") {
        Ok(seconds) if !seconds.is_empty() => Some(
            seconds
                .parse()
                .ok()
                .filter(|s| *s > 0)
                .map(std::time::Duration::from_secs)
                .ok_or("EXPIRY_INTERVAL_SECONDS is not a positive number of seconds")?,
        ),
        _ => None,
    };
    let (stack, router, schedules) =
        kiosk_local::start_with_schedules(&sdk, &template, &prefix, &staff, &overrides).await?;
    let scheduled: Vec<String> = schedules
        .iter()
        .map(|s| {
            format!(
                "{} every {} s",
                s.function,
                expiry_every.unwrap_or(s.every).as_secs()
            )
        })
        .collect();
    let _timers = kiosk_local::schedule::spawn(schedules, expiry_every);
    let menu = kiosk_local::seed_demo_menu(&sdk, &stack).await?;
    let stores = kiosk_local::seed_demo_stores(&sdk, &stack).await?;
    for (name, store) in &stores {
        let suffix = if name == "Centro" {
            String::new()
        } else {
            format!("-{}", name.to_lowercase())
        };
        for role in ["manager", "kitchen"] {
            kiosk_local::assign_store(&sdk, &stack, &format!("{role}{suffix}"), store).await?;
        }
    }
    let kiosk = enrol_demo_kiosks(&sdk, &stack, &stores, port).await?;
    let env_json = kiosk_local::env_file::write_local(&template, &stack, &endpoint)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    tracing::info!(
        url = %format!("http://127.0.0.1:{port}"),
        emulator = %endpoint,
        mercadopago = %format!("http://{mercadopago}"),
        user_pool = stack.user_pool_id()?,
        mail_from = stack.get(kiosk_local::bootstrap::SENDER_PARAMETER)?,
        demo_products = menu,
        demo_stores = %stores
            .iter()
            .map(|(name, id)| format!("{name} {id}"))
            .collect::<Vec<_>>()
            .join(", "),
        scheduled = %scheduled.join(", "),
        env_json = %env_json.display(),
        "kiosk API ready; staff users: admin (the chain), manager and kitchen (Centro), manager-shopping and kitchen-shopping (Shopping); Ctrl-C stops"
    );
    println!(
        "A demo kiosk is enrolled at each demo store; ids and secrets are in {path}. Centro's token:\n  \
         source {path} && curl -s -X POST http://127.0.0.1:{port}/auth/kiosk \\\n    \
         -H 'Content-Type: application/json' \\\n    \
         -d \"{{\\\"kiosk_id\\\": \\\"$KIOSK_ID\\\", \\\"secret\\\": \\\"$KIOSK_SECRET\\\"}}\"",
        path = kiosk.display()
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Enrols a demo kiosk at each demo store and writes their ids and secrets
/// to `.local/kiosk-<port>.env`: `KIOSK_ID=`, `KIOSK_SECRET=` (Centro's),
/// `SHOPPING_KIOSK_ID=`, `SHOPPING_KIOSK_SECRET=`, and the stores' ids
/// (`CENTRO_STORE_ID=`, `SHOPPING_STORE_ID=`): the secrets are shown only
/// there. Returns the file's path.
async fn enrol_demo_kiosks(
    sdk: &aws_config::SdkConfig,
    stack: &kiosk_local::bootstrap::LocalStack,
    stores: &[(String, shared::domain::StoreId)],
    port: u16,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let kiosks = shared::store::kiosks::KioskStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.get("KiosksTable")?,
    );
    let mut lines = String::new();
    for (name, store) in stores {
        let enrolled = kiosks.enrol(&format!("Totem {name}"), store, None).await?;
        let prefix = if name == "Centro" {
            String::new()
        } else {
            format!("{}_", name.to_uppercase())
        };
        lines.push_str(&format!(
            "{upper}_STORE_ID={store}\n{prefix}KIOSK_ID={}\n{prefix}KIOSK_SECRET={}\n",
            enrolled.kiosk.id,
            enrolled.secret,
            upper = name.to_uppercase(),
        ));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".local");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("kiosk-{port}.env"));
    std::fs::write(&path, lines)?;
    Ok(path)
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! { _ = interrupt => {}, _ = terminate.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
