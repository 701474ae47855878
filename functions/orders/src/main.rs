#![recursion_limit = "256"] // the SDK futures nest deeper than the default layout limit

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve::<orders::State>().await
}
