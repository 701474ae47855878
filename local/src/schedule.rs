//! The schedules of the template, run locally: what EventBridge does for a
//! `Type: Schedule` event (`rate(1 minute)` for the order expiry), a timer
//! that hands the function the scheduled event EventBridge would send,
//! in this process, through the same handler the Lambda binary runs.

use crate::server::ScheduledHandler;
use serde_json::{Value, json};
use std::time::Duration;

/// A function of the template and how often it runs.
pub struct Schedule {
    pub function: String,
    pub every: Duration,
    pub handler: ScheduledHandler,
}

/// The scheduled event EventBridge sends (`events/order-expiry/scheduled.json`
/// has one), for `function` at the current time.
pub fn scheduled_event(function: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": shared::clock::now_rfc3339(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/local-{function}")],
        "detail": {}
    })
}

/// Runs each schedule on a timer of its own (`every` overrides the
/// template's period), the first run one period from now. A run that
/// fails is logged; the next one comes all the same. Runs of one function
/// never overlap here (EventBridge's may; the functions allow it).
pub fn spawn(
    schedules: Vec<Schedule>,
    every: Option<Duration>,
) -> Vec<tokio::task::JoinHandle<()>> {
    schedules
        .into_iter()
        .map(|schedule| {
            let period = every.unwrap_or(schedule.every);
            tokio::spawn(async move {
                let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    timer.tick().await;
                    let event = scheduled_event(&schedule.function);
                    match (schedule.handler)(event).await {
                        Ok(answer) => {
                            tracing::debug!(function = %schedule.function, %answer, "scheduled run")
                        }
                        Err(error) => {
                            tracing::error!(function = %schedule.function, %error, "scheduled run failed")
                        }
                    }
                }
            })
        })
        .collect()
}
