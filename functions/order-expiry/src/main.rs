#![recursion_limit = "256"] // the SDK futures nest deeper than the default layout limit

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    order_expiry::serve().await
}
