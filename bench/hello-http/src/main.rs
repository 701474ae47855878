//! The floor `make bench` measures the HTTP functions against: the same
//! runtime, tokio and log setup as theirs (`shared::lambda::serve`), and a
//! handler that answers an empty 200 to every request.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::Empty))
    }))
    .await
}
