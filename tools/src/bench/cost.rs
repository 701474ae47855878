//! What an order costs on AWS, and how many the chain can take: the part of
//! docs/PERFORMANCE.md after the budgets.
//!
//! The inputs, each from where it can be read:
//! - the requests one kiosk order makes and the DynamoDB calls each makes:
//!   [`STEPS`], as the end-to-end round-trip tests count and assert them
//!   (`local/tests/api/round_trips.rs`, `products.rs`, `kiosks.rs`);
//! - the size of the items those calls read and write: measured by the bench
//!   on its own stack (the order it places, the demo menu, the store), by
//!   DynamoDB's sizing rules ([`item_bytes`]);
//! - each function's duration: the bench's warm p50 over HTTP for its sample
//!   request, per AWS call it makes ([`per_call`]), times the calls of each
//!   request; and its memory from template.yaml;
//! - list prices: [`PRICES`], us-east-1, as AWS publishes them (the date is
//!   in the table), to be checked before a budget relies on them.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

/// List prices in US dollars, us-east-1.
pub struct Prices {
    /// API Gateway REST API, per million requests (first 333 million a month).
    pub api_gateway_per_million: f64,
    /// Lambda, per million requests.
    pub lambda_requests_per_million: f64,
    /// Lambda on arm64 (Graviton), per GB-second.
    pub lambda_arm_gb_second: f64,
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_wru_per_million: f64,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_rru_per_million: f64,
    /// When these were read off AWS's pricing pages.
    pub as_of: &'static str,
}

pub const PRICES: Prices = Prices {
    api_gateway_per_million: 3.50,
    lambda_requests_per_million: 0.20,
    lambda_arm_gb_second: 0.000_013_333_4,
    dynamodb_wru_per_million: 0.625,
    dynamodb_rru_per_million: 0.125,
    as_of: "read off aws.amazon.com/api-gateway/pricing, /lambda/pricing and \
            /dynamodb/pricing/on-demand for us-east-1; DynamoDB on-demand as cut in November 2024",
};

/// The sizes, in bytes by DynamoDB's rules, of the items the hot paths touch,
/// measured on the bench's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// The order the bench placed (awaiting payment; a paid one carries its
    /// payment too, a few hundred bytes more).
    pub order: u64,
    /// Every product of the demo menu together, and how many there are.
    pub menu: u64,
    pub products: usize,
    /// The store's record.
    pub store: u64,
}

/// The bytes DynamoDB counts for an item: each attribute's name and value
/// (strings and binaries by length, numbers by about one byte per two
/// digits plus one, booleans and nulls one byte, lists and maps three bytes
/// plus one per element plus their elements).
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_bytes(value))
        .sum()
}

fn value_bytes(value: &AttributeValue) -> u64 {
    let number = |n: &str| (n.trim_start_matches('-').len() as u64).div_ceil(2) + 1;
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_bytes(v)).sum::<u64>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() as u64 + value_bytes(v))
                .sum::<u64>()
        }
        _ => 1,
    }
}

/// Units of `unit` bytes that `bytes` takes (1 KB a write unit, 4 KB a read
/// unit), at least one.
fn units(bytes: u64, unit: u64) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// One kind of request of a kiosk order.
pub struct Step {
    pub what: &'static str,
    /// The binary that answers it.
    pub binary: &'static str,
    /// How many an order makes.
    pub per_order: f64,
    /// Authorizer invocations it causes per order (a token's first request;
    /// the policy is cached 300 s per token).
    pub authorizer: f64,
    /// The AWS calls one request makes (as the round-trip tests count them).
    pub calls: f64,
    /// DynamoDB read and write units of one request, from the item sizes.
    pub rru: fn(&Sizes) -> f64,
    pub wru: fn(&Sizes) -> f64,
    /// Which calls those are, for the table.
    pub how: &'static str,
}

/// A kiosk order as the walkthrough makes it: a guest signs in, reads the
/// menu, checks out (keyed) two kinds of product, pays the QR (the kiosk
/// reads the order three times while the customer pays), Mercado Pago
/// notifies, and the kitchen moves it three times. Reads are eventually
/// consistent (half a unit per 4 KB) unless marked strong; a transaction
/// costs twice; every write to an item also writes each GSI it is in
/// (`by_owner` and `kitchen` project the whole order, `awaiting` its keys).
pub const STEPS: &[Step] = &[
    Step {
        what: "guest sign-in `POST /auth/guest`",
        binary: "authenticate",
        per_order: 1.0,
        authorizer: 0.0,
        calls: 1.0,
        rru: |_| 0.0,
        wru: |_| 1.0,
        how: "UpdateItem of the kiosk's sign-in counter (the kiosk's token is cached)",
    },
    Step {
        what: "menu `GET /products`",
        binary: "products",
        per_order: 1.0,
        authorizer: 1.0,
        calls: 2.0,
        rru: |s| 0.5 * units(s.menu, 4096) + 0.5 * units(s.store, 4096),
        wru: |_| 0.0,
        how: "Query of the menu + GetItem of the store (its sold-out set), at once; counted as \
              if every menu read missed the products function's 5-second menu cache (an upper \
              bound: a warm instance answers a page it read from memory)",
    },
    Step {
        what: "checkout `POST /orders`",
        binary: "orders",
        per_order: 1.0,
        authorizer: 0.0,
        calls: 2.0,
        rru: |s| 0.5 * 2.0 + 0.5 * units(s.store, 4096) + 0.5,
        wru: |s| 2.0 * (units(s.order, 1024) + 3.0) + units(s.order, 1024) + 1.0,
        how: "BatchGetItem (2 products, the store, the key's record); TransactWriteItems \
              (order, 2 open-order holders, the key's record) + GSIs by_owner, awaiting",
    },
    Step {
        what: "QR `POST /orders/{id}/payment`",
        binary: "orders",
        per_order: 1.0,
        authorizer: 0.0,
        calls: 3.0,
        rru: |s| units(s.order, 4096),
        wru: |s| 1.0 + 2.0 * units(s.order + 300, 1024),
        how: "GetItem of the order (strong); PutItem of the QR's pointer; UpdateItem of \
              the order + GSI by_owner (and one Mercado Pago call)",
    },
    Step {
        what: "kiosk reads the order while paying `GET /orders/{id}`",
        binary: "orders",
        per_order: 3.0,
        authorizer: 0.0,
        calls: 1.0,
        rru: |s| units(s.order, 4096),
        wru: |_| 0.0,
        how: "GetItem of the order (strong)",
    },
    Step {
        what: "Mercado Pago's notification `POST /webhooks/mercadopago`",
        binary: "orders",
        per_order: 1.0,
        authorizer: 0.0,
        calls: 4.0,
        rru: |s| 0.5 + units(s.order, 4096),
        wru: |s| {
            let order = units(s.order + 300, 1024);
            1.0 + 2.0 * (order + 1.0 + 2.0) + 2.0 * order + 1.0
        },
        how: "GetItem of the pointer, GetItem of the order; UpdateItem of the ticket counter; \
              TransactWriteItems (order, ticket slot, 2 holders freed) + GSIs by_owner, \
              kitchen, awaiting (and one Mercado Pago read)",
    },
    Step {
        what: "kitchen moves `PATCH /orders/{id}`",
        binary: "orders",
        per_order: 3.0,
        authorizer: 0.0,
        calls: 1.0,
        rru: |_| 0.0,
        wru: |s| {
            let order = units(s.order + 300, 1024);
            // The order, by_owner, and kitchen twice (its key moves).
            4.0 * order
        },
        how: "UpdateItem of the order + GSI by_owner + GSI kitchen (its key changes: \
              a delete and a put); the kitchen's token is cached",
    },
];

/// A function's duration per AWS call, from the bench: its warm p50 over
/// HTTP on its sample request, which makes `sample_calls` AWS calls.
pub fn per_call(p50: Duration, sample_calls: f64) -> Duration {
    p50.div_f64(sample_calls.max(1.0))
}

/// What the cost table needs from the run: the duration per AWS call of
/// each binary and the memory of each function.
pub struct Inputs<'a> {
    pub sizes: Sizes,
    /// Binary → (duration per AWS call, memory in MB).
    pub functions: &'a HashMap<String, (Duration, u32)>,
    /// The authorizer's warm p50 and memory.
    pub authorizer: (Duration, u32),
}

/// The dollars of one order, by part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderCost {
    pub api_gateway: f64,
    pub lambda: f64,
    pub dynamodb: f64,
    pub requests: f64,
    pub invocations: f64,
    pub gb_seconds: f64,
    pub rru: f64,
    pub wru: f64,
}

impl OrderCost {
    pub fn total(&self) -> f64 {
        self.api_gateway + self.lambda + self.dynamodb
    }
}

/// The cost of one order under `prices`. Lambda bills each invocation's
/// duration rounded up to the millisecond.
pub fn order_cost(inputs: &Inputs<'_>, prices: &Prices) -> Result<OrderCost, String> {
    let mut cost = OrderCost {
        api_gateway: 0.0,
        lambda: 0.0,
        dynamodb: 0.0,
        requests: 0.0,
        invocations: 0.0,
        gb_seconds: 0.0,
        rru: 0.0,
        wru: 0.0,
    };
    let gb_s = |duration: Duration, memory_mb: u32| {
        (duration.as_secs_f64() * 1e3).ceil() / 1e3 * f64::from(memory_mb) / 1024.0
    };
    for step in STEPS {
        let (per_call, memory) = inputs
            .functions
            .get(step.binary)
            .ok_or_else(|| format!("no measured duration for {}", step.binary))?;
        let duration = per_call.mul_f64(step.calls);
        cost.requests += step.per_order;
        cost.invocations += step.per_order + step.authorizer;
        cost.gb_seconds += step.per_order * gb_s(duration, *memory);
        cost.gb_seconds += step.authorizer * gb_s(inputs.authorizer.0, inputs.authorizer.1);
        cost.rru += step.per_order * (step.rru)(&inputs.sizes);
        cost.wru += step.per_order * (step.wru)(&inputs.sizes);
    }
    cost.api_gateway = cost.requests * prices.api_gateway_per_million / 1e6;
    cost.lambda = cost.invocations * prices.lambda_requests_per_million / 1e6
        + cost.gb_seconds * prices.lambda_arm_gb_second;
    cost.dynamodb = cost.rru * prices.dynamodb_rru_per_million / 1e6
        + cost.wru * prices.dynamodb_wru_per_million / 1e6;
    Ok(cost)
}

/// The section of docs/PERFORMANCE.md.
pub fn markdown(inputs: &Inputs<'_>) -> Result<String, String> {
    let prices = &PRICES;
    let cost = order_cost(inputs, prices)?;
    let sizes = &inputs.sizes;
    let mut out = String::new();
    let _ = write!(
        out,
        "\n## Cost per 1,000 orders\n\n\
         One kiosk order as the walkthrough makes it, at list prices ({as_of}). The item sizes\n\
         were measured by this bench on its stack, by DynamoDB's sizing rules: an order awaiting\n\
         payment {order} bytes, the demo menu's {products} products {menu} bytes together, a\n\
         store's record {store} bytes. The calls of each request are the ones the end-to-end\n\
         round-trip tests count and assert; each function's duration is its warm p50 over HTTP\n\
         above divided by the AWS calls of its sample request, times the calls of the request\n\
         (moto answers about as fast as DynamoDB in-region: an estimate, not a bill).\n\n\
         | request | per order | AWS calls | read units | write units | how |\n\
         |---|---|---|---|---|---|\n",
        as_of = prices.as_of,
        order = sizes.order,
        products = sizes.products,
        menu = sizes.menu,
        store = sizes.store,
    );
    for step in STEPS {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {} |",
            step.what,
            step.per_order,
            step.calls,
            (step.rru)(sizes),
            (step.wru)(sizes),
            step.how
        );
    }
    let thousand = |dollars: f64| dollars * 1000.0;
    let _ = write!(
        out,
        "\nPer order: {requests} API requests, {invocations} Lambda invocations (the guest \
         token's one authorizer call included), {gb:.4} GB-s, {rru:.1} read and {wru:.1} write \
         units.\n\n\
         | part | per 1,000 orders | how |\n\
         |---|---|---|\n\
         | API Gateway (REST) | ${api:.4} | {requests} requests × ${api_price:.2} per million |\n\
         | Lambda | ${lambda:.4} | {invocations} invocations × ${req_price:.2} per million + \
         {gb:.4} GB-s × ${gb_price} (arm64) |\n\
         | DynamoDB (on-demand) | ${ddb:.4} | {rru:.1} RRU × ${rru_price} + {wru:.1} WRU × \
         ${wru_price} per million |\n\
         | **total** | **${total:.4}** | about {cents:.2} cents per order; Mercado Pago's fee \
         on the payment is far more |\n\n\
         Not counted: CloudWatch Logs ($0.50 per GB ingested; a request logs a few hundred \
         bytes), the WAF where enabled ($0.60 per million requests plus its rules), Secrets \
         Manager reads (cached by each warm function), the kiosks' token refreshes, and the \
         kitchen screens and pickup boards, which cost per store and hour, not per order: a \
         screen polling every 5 s is 720 requests an hour, about ${screen:.4} an hour with its \
         DynamoDB Queries.\n",
        requests = cost.requests,
        invocations = cost.invocations,
        gb = cost.gb_seconds,
        rru = cost.rru,
        wru = cost.wru,
        api = thousand(cost.api_gateway),
        api_price = prices.api_gateway_per_million,
        lambda = thousand(cost.lambda),
        req_price = prices.lambda_requests_per_million,
        gb_price = prices.lambda_arm_gb_second,
        ddb = thousand(cost.dynamodb),
        rru_price = prices.dynamodb_rru_per_million,
        wru_price = prices.dynamodb_wru_per_million,
        total = thousand(cost.total()),
        cents = cost.total() * 100.0,
        screen =
            720.0 * (prices.api_gateway_per_million + prices.lambda_requests_per_million) / 1e6,
    );
    let _ = write!(out, "{}", capacity(sizes, &cost));
    Ok(out)
}

/// DynamoDB's per-partition limits: 1,000 write and 3,000 read units a
/// second (developer guide, "partitions"); adaptive capacity lends a hot
/// partition more, and splits a hot one by sort key, but these are what a
/// design may count on.
const PARTITION_WRU: f64 = 1000.0;
const PARTITION_RRU: f64 = 3000.0;
/// API Gateway's default account quota in a region (requests a second,
/// steady), and the stage throttle template.yaml sets.
const ACCOUNT_RPS: f64 = 10_000.0;
const STAGE_RPS: f64 = 200.0;
/// Lambda's default concurrency quota in a region.
const LAMBDA_CONCURRENCY: f64 = 1000.0;
/// How long a warm products instance keeps a menu page (the template's
/// `MENU_CACHE_SECONDS`).
const MENU_CACHE_SECONDS: f64 = 5.0;

fn capacity(sizes: &Sizes, cost: &OrderCost) -> String {
    let order_wru = units(sizes.order + 300, 1024);
    // One store's hottest keys: its ticket counter (one unit a paid order),
    // its kitchen partitions (each move puts the whole order into the next
    // status's partition) and its record (read by every checkout and menu read).
    let ticket_counter = PARTITION_WRU;
    let kitchen_partition = PARTITION_WRU / order_wru;
    let store_record = PARTITION_RRU / (0.5 * units(sizes.store, 4096)) / 2.0;
    let per_store = ticket_counter.min(kitchen_partition).min(store_record);
    // The chain's shared partitions: the awaiting index (16 partitions, keys
    // only, written at checkout and cleared at payment) and the menu (one
    // partition, but each warm products instance reads a page of it at most
    // once per MENU_CACHE_SECONDS, so its load follows the number of
    // instances, not of orders).
    let awaiting = 16.0 * PARTITION_WRU / 2.0;
    let menu_units = 0.5 * units(sizes.menu, 4096);
    let menu_share = LAMBDA_CONCURRENCY / MENU_CACHE_SECONDS * menu_units / PARTITION_RRU;
    let requests = cost.requests;
    let stage = STAGE_RPS / requests;
    let account = ACCOUNT_RPS / requests;
    let mut out = String::new();
    let _ = write!(
        out,
        "\n## Capacity\n\n\
         Orders a second before a limit, from the per-order requests above and DynamoDB's\n\
         per-partition limits ({PARTITION_WRU} write and {PARTITION_RRU} read units a second;\n\
         adaptive capacity lends a hot partition more, but a design should not count on it).\n\
         The emulator cannot measure this: the three-store concurrency test\n\
         (`local/tests/api/chain.rs`) checks that nothing is lost or mixed, not how fast.\n\n\
         | limit | orders/s | how |\n\
         |---|---|---|\n\
         | one store: its ticket counter | {ticket_counter:.0} | one write unit per paid order on `counter#ticket#<store>` |\n\
         | one store: a kitchen partition | {kitchen_partition:.0} | each move writes the order ({order_wru} write units) into `<store>#<status>` |\n\
         | one store: its record | {store_record:.0} | read at each checkout and each menu read, {store_units} read unit each |\n\
         | **one store** | **{per_store:.0}** | the least of the three; no key is shared with another store |\n\
         | chain: the `awaiting` index | {awaiting:.0} | 16 partitions, two keys-only writes per order |\n\
         | chain: the menu partition | no limit | one partition, but a warm products instance answers a menu page from memory for {MENU_CACHE_SECONDS} s (`MENU_CACHE_SECONDS`): even {LAMBDA_CONCURRENCY} instances at once read it at most {menu_reads:.0} times a second ({menu_units} read units each), {menu_percent:.0}% of the partition, whatever the orders |\n\
         | chain: the template's stage throttle | {stage:.0} | {STAGE_RPS} requests/s ÷ {requests} requests per order |\n\
         | chain: API Gateway's account quota | {account:.0} | {ACCOUNT_RPS} requests/s (default, per region) ÷ {requests} |\n\
         | chain: Lambda concurrency | {lambda:.0} | {LAMBDA_CONCURRENCY} concurrent executions (default) ÷ the seconds of Lambda one order takes |\n\n\
         The seed target is 10,000 requests a second: {account:.0} orders a second at\n\
         {requests} requests each, which API Gateway's default account quota allows and the\n\
         template's stage throttle (200 requests/s, burst 400: a guard against a runaway\n\
         client and a surprise bill, about {stage:.0} orders/s) does not. To raise it: set\n\
         the stage's `ThrottlingRateLimit`/`ThrottlingBurstLimit` in template.yaml (the\n\
         routes' own limits stay), ask Service Quotas for more API Gateway requests/s and\n\
         Lambda concurrency when past the defaults.\n",
        store_units = 0.5 * units(sizes.store, 4096),
        menu_reads = LAMBDA_CONCURRENCY / MENU_CACHE_SECONDS,
        menu_percent = menu_share * 100.0,
        lambda = LAMBDA_CONCURRENCY / (cost.gb_seconds / 0.25).max(1e-6),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_sized_as_dynamodb_counts_them() {
        let item = HashMap::from([
            ("id".to_owned(), AttributeValue::S("abc".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::S("xy".into())]),
            ),
        ]);
        // id 2+3, n 1+(3+1), ok 2+1, l 1+(3+1+2)
        assert_eq!(item_bytes(&item), 5 + 5 + 3 + 7);
    }

    #[test]
    fn an_order_costs_the_sum_of_its_steps_at_the_given_prices() {
        let functions: HashMap<String, (Duration, u32)> = ["authenticate", "products", "orders"]
            .into_iter()
            .map(|b| (b.to_owned(), (Duration::from_millis(2), 256)))
            .collect();
        let inputs = Inputs {
            sizes: Sizes {
                order: 900,
                menu: 6000,
                products: 12,
                store: 400,
            },
            functions: &functions,
            authorizer: (Duration::from_micros(300), 128),
        };
        let cost = order_cost(&inputs, &PRICES).unwrap();
        assert_eq!(
            cost.requests,
            STEPS.iter().map(|s| s.per_order).sum::<f64>()
        );
        assert!((cost.api_gateway - cost.requests * 3.5e-6).abs() < 1e-12);
        assert!(cost.total() > cost.api_gateway && cost.dynamodb > 0.0);
        // Bigger orders cost more write units, and nothing else.
        let bigger = Inputs {
            sizes: Sizes {
                order: 3000,
                ..inputs.sizes
            },
            ..inputs
        };
        let more = order_cost(&bigger, &PRICES).unwrap();
        assert!(more.wru > cost.wru && more.api_gateway == cost.api_gateway);
        let text = markdown(&inputs).unwrap();
        assert!(text.contains("## Cost per 1,000 orders") && text.contains("## Capacity"));
        let mut missing = functions.clone();
        missing.remove("orders");
        let without = Inputs {
            functions: &missing,
            ..inputs
        };
        assert!(order_cost(&without, &PRICES).is_err());
    }
}
