//! reconcile: reads a [`Snapshot`] out of the tables.
//!
//! One paginated `Scan` per table, with `ConsistentRead` (every table is read on its base
//! table, never an index, so every read can be consistent) and a projection of only the
//! attributes the invariants use. The order of the scans is the module doc's ("What a
//! snapshot is not"). Each item goes through a pure `*_from_item` function; an item that does
//! not map is kept as a [`MalformedItem`] (reported, the check goes on) rather than failing
//! the run, since a broken item is exactly what a reconciliation should list.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use super::{
    DayCounters, LedgerRecord, MalformedItem, OperationKind, OrderRecord, OrderStatus, OrderUnits,
    PaymentOperation, ProductStock, Reservation, Snapshot,
};
use crate::catalog::{Currency, Money};
use crate::store::{Item, ItemReader, StoreError, backend};
use lambda_kit::dynamo::ItemError;

/// The tables to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Products (key `sku`).
    pub products: String,
    /// Reservations (key `sku` + `order_id`); `None` for a stack that predates it.
    pub reservations: Option<String>,
    /// Orders (key `order_id`).
    pub orders: String,
    /// Payments (key `operation_id`).
    pub payments: String,
    /// Ledger (key `order_id` + `seq`).
    pub ledger: String,
    /// Analytics (key `day`); read only when given.
    pub analytics: Option<String>,
}

/// Reads every table of `tables` (see the module doc for the order).
pub async fn read_snapshot(client: &Client, tables: &Tables) -> Result<Snapshot, StoreError> {
    read_snapshot_paged(client, tables, None).await
}

/// [`read_snapshot`] with at most `page_size` items per Scan page (tests: pagination).
pub(crate) async fn read_snapshot_paged(
    client: &Client,
    tables: &Tables,
    page_size: Option<i32>,
) -> Result<Snapshot, StoreError> {
    let scan = Scanner { client, page_size };
    let mut malformed = Vec::new();
    let orders = map_items(
        "orders",
        &scan
            .all(&tables.orders, ORDER_ATTRIBUTES, "Scan orders")
            .await?,
        order_from_item,
        &mut malformed,
    );
    let reservations = match &tables.reservations {
        Some(table) => Some(map_items(
            "reservations",
            &scan
                .all(table, RESERVATION_ATTRIBUTES, "Scan reservations")
                .await?,
            reservation_from_item,
            &mut malformed,
        )),
        None => None,
    };
    let products = map_items(
        "products",
        &scan
            .all(&tables.products, PRODUCT_ATTRIBUTES, "Scan products")
            .await?,
        product_from_item,
        &mut malformed,
    );
    let payments = map_items(
        "payments",
        &scan
            .all(&tables.payments, PAYMENT_ATTRIBUTES, "Scan payments")
            .await?,
        payment_from_item,
        &mut malformed,
    );
    let ledger = map_items(
        "ledger",
        &scan
            .all(&tables.ledger, LEDGER_ATTRIBUTES, "Scan ledger")
            .await?,
        ledger_from_item,
        &mut malformed,
    );
    let analytics = match &tables.analytics {
        Some(table) => Some(map_items(
            "analytics",
            &scan.all(table, DAY_ATTRIBUTES, "Scan analytics").await?,
            day_from_item,
            &mut malformed,
        )),
        None => None,
    };
    Ok(Snapshot {
        products,
        reservations,
        orders,
        payments,
        ledger,
        analytics,
        malformed,
    })
}

struct Scanner<'a> {
    client: &'a Client,
    page_size: Option<i32>,
}

impl Scanner<'_> {
    /// Every item of `table`, page after page, with only `attributes`.
    async fn all(
        &self,
        table: &str,
        attributes: &[&str],
        operation: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        // Placeholders for every name: several (`status`, `day`…) are reserved words.
        let names: HashMap<String, String> = attributes
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("#a{i}"), (*name).to_owned()))
            .collect();
        let projection = (0..attributes.len())
            .map(|i| format!("#a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .projection_expression(&projection)
            .set_expression_attribute_names(Some(names))
            .set_limit(self.page_size)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| backend(operation, &e))
    }
}

/// Maps every item; `Ok(None)` items are not part of the snapshot (guards, markers, attempt
/// counters), failures are kept in `malformed`.
pub(super) fn map_items<T>(
    table: &'static str,
    items: &[Item],
    map: fn(&Item) -> Result<Option<T>, ItemError>,
    malformed: &mut Vec<MalformedItem>,
) -> Vec<T> {
    let mut mapped = Vec::with_capacity(items.len());
    for item in items {
        match map(item) {
            Ok(Some(value)) => mapped.push(value),
            Ok(None) => {}
            Err(err) => malformed.push(MalformedItem {
                table,
                key: err.key,
                problem: err.problem,
            }),
        }
    }
    mapped
}

/// The item's key for messages: the named attributes joined by `/`.
fn key_of(item: &Item, names: &[&str]) -> String {
    names
        .iter()
        .map(|name| match item.get(*name) {
            Some(AttributeValue::S(value)) => value.clone(),
            Some(AttributeValue::N(value)) => value.clone(),
            _ => format!("<no {name}>"),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn money(r: &ItemReader<'_>) -> Result<Money, ItemError> {
    let currency =
        Currency::parse(r.string("currency")?).map_err(|e| r.malformed(e.to_string()))?;
    Ok(Money::new(r.number("amount_minor")?, currency))
}

const PRODUCT_ATTRIBUTES: &[&str] = &["sku", "stock", "stocked_total"];

pub(super) fn product_from_item(item: &Item) -> Result<Option<ProductStock>, ItemError> {
    let key = key_of(item, &["sku"]);
    let r = ItemReader { item, key: &key };
    Ok(Some(ProductStock {
        sku: r.string("sku")?.to_owned(),
        stock: r.number("stock")?,
        stocked_total: r.optional_number("stocked_total")?,
    }))
}

const RESERVATION_ATTRIBUTES: &[&str] = &["sku", "order_id", "quantity", "reserved_at"];

pub(super) fn reservation_from_item(item: &Item) -> Result<Option<Reservation>, ItemError> {
    let key = key_of(item, &["sku", "order_id"]);
    let r = ItemReader { item, key: &key };
    Ok(Some(Reservation {
        sku: r.string("sku")?.to_owned(),
        order_id: r.string("order_id")?.to_owned(),
        quantity: r.number("quantity")?,
        reserved_at: r.string("reserved_at")?.to_owned(),
    }))
}

const ORDER_ATTRIBUTES: &[&str] = &[
    "order_id",
    "status",
    "created_at",
    "items_json",
    "total_minor",
    "currency",
    "charge_id",
    "approval_token",
];

/// What the checker reads of a priced line (the rest of `items_json` is ignored).
#[derive(Deserialize)]
struct LineUnits {
    sku: String,
    quantity: i64,
}

pub(super) fn order_from_item(item: &Item) -> Result<Option<OrderRecord>, ItemError> {
    let key = key_of(item, &["order_id"]);
    let r = ItemReader { item, key: &key };
    let status = r.string("status")?;
    let status = OrderStatus::parse(status).map_err(|e| r.malformed(e.to_string()))?;
    let lines = match r.optional_string("items_json")? {
        Some(json) => serde_json::from_str::<Vec<LineUnits>>(&json)
            .map_err(|e| r.malformed(format!("items_json is not a list of lines: {e}")))?
            .into_iter()
            .map(|l| OrderUnits {
                sku: l.sku,
                quantity: l.quantity,
            })
            .collect(),
        None => Vec::new(),
    };
    let total = match (
        r.optional_number::<i64>("total_minor")?,
        r.optional_string("currency")?,
    ) {
        (Some(amount), Some(currency)) => Some(Money::new(
            amount,
            Currency::parse(&currency).map_err(|e| r.malformed(e.to_string()))?,
        )),
        _ => None,
    };
    Ok(Some(OrderRecord {
        order_id: r.string("order_id")?.to_owned(),
        status,
        created_at_ms: r.number("created_at")?,
        lines,
        total,
        charge_id: r.optional_string("charge_id")?,
        went_through_approval: r.optional_string("approval_token")?.is_some(),
    }))
}

const PAYMENT_ATTRIBUTES: &[&str] = &[
    "operation_id",
    "kind",
    "order_id",
    "amount_minor",
    "currency",
    "charge_id",
    "refund_id",
    "created_at",
];

/// A captured charge (`charge_id` set) or a made refund (`refund_id` set); `None` for a
/// charge that only counted attempts.
pub(super) fn payment_from_item(item: &Item) -> Result<Option<PaymentOperation>, ItemError> {
    let key = key_of(item, &["operation_id"]);
    let r = ItemReader { item, key: &key };
    let kind = match r.string("kind")? {
        "CHARGE" if item.contains_key("charge_id") => OperationKind::Charge,
        "CHARGE" => return Ok(None),
        // A refund item is written whole, refund_id included: one without it is broken.
        "REFUND" => {
            r.string("refund_id")?;
            OperationKind::Refund
        }
        other => return Err(r.malformed(format!("unknown kind {other:?}"))),
    };
    Ok(Some(PaymentOperation {
        operation_id: r.string("operation_id")?.to_owned(),
        kind,
        order_id: r.string("order_id")?.to_owned(),
        amount: money(&r)?,
        created_at_s: r.number("created_at")?,
    }))
}

const LEDGER_ATTRIBUTES: &[&str] = &[
    "order_id",
    "seq",
    "operation_id",
    "kind",
    "amount_minor",
    "currency",
    "recorded_at",
];

/// An entry; `None` for a guard item (`seq = "guard"`, partition `operation#<id>`).
pub(super) fn ledger_from_item(item: &Item) -> Result<Option<LedgerRecord>, ItemError> {
    let key = key_of(item, &["order_id", "seq"]);
    let r = ItemReader { item, key: &key };
    if r.string("seq")? == crate::ledger::GUARD_SEQ {
        return Ok(None);
    }
    Ok(Some(LedgerRecord {
        order_id: r.string("order_id")?.to_owned(),
        seq: r.string("seq")?.to_owned(),
        operation_id: r.string("operation_id")?.to_owned(),
        kind: r.string("kind")?.to_owned(),
        amount: money(&r)?,
        recorded_at_s: r.number("recorded_at")?,
    }))
}

const DAY_ATTRIBUTES: &[&str] = &[
    "day",
    crate::analytics::ORDERS,
    crate::analytics::REVENUE_MINOR,
];

/// Prefix of the analytics table's once-only markers (not days).
const MARKER_PREFIX: &str = "COUNTED#";

/// A day's order counters (absent = 0); `None` for a once-only marker.
pub(super) fn day_from_item(item: &Item) -> Result<Option<DayCounters>, ItemError> {
    let key = key_of(item, &["day"]);
    let r = ItemReader { item, key: &key };
    let day = r.string("day")?;
    if day.starts_with(MARKER_PREFIX) {
        return Ok(None);
    }
    Ok(Some(DayCounters {
        day: day.to_owned(),
        orders: r
            .optional_number(crate::analytics::ORDERS)?
            .unwrap_or_default(),
        revenue_minor: r
            .optional_number(crate::analytics::REVENUE_MINOR)?
            .unwrap_or_default(),
    }))
}
