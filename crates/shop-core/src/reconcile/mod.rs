//! reconcile: the invariants that tie the tables together, checked by
//! `shopctl reconcile --check` (`make reconcile`).
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the snapshot types ([`Snapshot`] …), the invariants as pure functions ([`stock`], [`money`], [`ledger`], [`analytics`], [`liveness`]), [`Violation`], [`Note`] and [`check`] |
//! | `dynamo.rs` | [`read_snapshot`]: paginated, consistent Scans of each table into a [`Snapshot`] |
//! | `tests.rs` | each invariant on a healthy state and on a broken one; item parsing; a LocalStack test |
//!
//! Every invariant is a function `(&Snapshot, &CheckConfig) -> Vec<Violation>` that reads
//! nothing else, so each one is tested on a hand-made state. Sums are in units or minor
//! units of money; an order's lines are its `items_json`.
//!
//! ## 1. Stock ([`stock`])
//!
//! For every product that has `stocked_total` (units ever stocked; seed and restock add to
//! it):
//!
//! ```text
//! stock(p) + Σ quantity of the reservations of p + Σ quantity of p in FULFILLED orders = stocked_total(p)
//! ```
//!
//! The units of a `CONFIRMED` (or `PENDING`, `CANCELLING` …) order are still in its
//! reservations; fulfilment deletes them when the units leave. A product without
//! `stocked_total` is skipped (a [`Note`], not a violation: it predates the attribute).
//! Every reservation must also belong to an order that can still hold stock: none for a
//! `FAILED`, `REJECTED` or `CANCELLED` order ("stock held for a dead order") nor for a
//! `FULFILLED` one (shipped units still held), none for an order or a product that does not
//! exist, and its quantity is the order's quantity of that SKU.
//!
//! ## 2. Money ([`money`])
//!
//! Per order, over its operations in the payments table (`charge-<orderId>` with a
//! `charge_id` = captured, `refund-<orderId>` with a `refund_id` = refunded):
//!
//! ```text
//! captured − refunded = total_minor   if status ∈ {CONFIRMED, FULFILLED}
//! captured − refunded = 0             if status ∈ {FAILED, REJECTED, CANCELLED}
//! ```
//!
//! Other statuses are in flight and skipped (`REFUND_PENDING` owes a refund by definition).
//! A captured or refunded operation of an order that is not in the orders table is a
//! violation (once older than [`CheckConfig::grace_seconds`]: the order may have been created
//! after the orders were read), as is an operation in another currency than the order's
//! total.
//!
//! ## 3. Ledger ([`ledger`])
//!
//! - Every captured or refunded operation of the payments table has exactly one ledger entry
//!   with its `operation_id` (guard items, `seq = "guard"`, are not entries), recording the
//!   same amount.
//! - Within an order, the charge's entry comes before the refund's: `seq(charge) < seq(refund)`
//!   (sequence numbers compared as numbers).
//! - No ledger entry without a captured or refunded operation of that id.
//!
//! The ledger is written asynchronously (FIFO queue): operations and entries younger than
//! [`CheckConfig::grace_seconds`] are in flight, not missing.
//!
//! ## 4. Analytics ([`analytics`], opt-in: `--analytics`)
//!
//! ```text
//! Σ_days orders        = |R|
//! Σ_days revenue_minor = Σ_{o ∈ R} total_minor(o)
//! R = orders with status ∈ {CONFIRMED, FULFILLED, CANCELLING, CANCELLED},
//!     plus REFUND_PENDING orders that have a charge_id
//! ```
//!
//! `R` is the orders whose `OrderPlaced` was published: the checkout publishes it right after
//! `ConfirmOrder`, the only write of `charge_id`. `CANCELLING`/`CANCELLED` orders were
//! `CONFIRMED` first. A `REFUND_PENDING` order is on its way to `FAILED`, `REJECTED` or
//! `CANCELLED`; it was confirmed (and counted) iff `ConfirmOrder` ran, i.e. iff it has a
//! `charge_id`. The one path this misjudges: `ConfirmOrder` ran but the publish failed and the
//! refund is pending; the order then shows up as one order too many here. `FAILED` orders
//! are never in `R`, even with a `charge_id` (there, the publish is what failed).
//!
//! Opt-in because the counters are not derived from the orders table alone: the integration
//! tests send synthetic events straight to the analytics queue (the checkout test delivers a
//! copy of a real `OrderPlaced` under a new event id, on a day of its own, to show it counts
//! once), and each copy is an order counted that was never placed, so the shared test stack
//! never passes. The counters also lag the orders by a queue hop. On a stack that only
//! customers use, `--analytics` holds.
//!
//! ## 5. Liveness ([`liveness`])
//!
//! Every order older than its deadline is terminal (`FULFILLED`, `FAILED`, `REJECTED`,
//! `CANCELLED`):
//!
//! ```text
//! now − created_at > stuck_after + (approval_timeout if the order waited for approval)
//!                                 + (cancel_window if status ∈ {CONFIRMED, CANCELLING, REFUND_PENDING})
//!     ⇒ status is terminal
//! ```
//!
//! "Waited for approval" = status `AWAITING_APPROVAL`/`APPROVED` or an `approval_token` on the
//! order. `CONFIRMED` is settled only until fulfilment: the fulfilment queue delivers
//! `OrderPlaced` one cancel window after confirmation, so a `CONFIRMED` order past
//! `stuck_after + cancel_window` was never shipped and is stuck. `CANCELLING` (a cancel
//! inside the window whose workflow failed) and `REFUND_PENDING` (a refund the repair
//! consumer has not managed to make) get the same allowance; past it, an operator should
//! look.
//!
//! ## What a snapshot is not
//!
//! The tables are scanned one after the other, not at one instant. The order of the reads
//! follows the writes: orders first (a status is written after the payments and stock writes
//! it implies), then reservations, products, payments, ledger, analytics. Where a later scan
//! can see what an earlier one could not (a reservation or a payment of an order created after
//! the orders were read, a ledger entry of a payment made after the payments were read),
//! anything younger than [`CheckConfig::grace_seconds`] is counted as in flight ([`Note`]),
//! not as a violation. Any other violation found on a busy stack may still be a write that
//! landed between two scans: run again; one that persists is real.

mod dynamo;

pub use dynamo::{Tables, read_snapshot};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::catalog::Money;
pub use crate::orders::OrderStatus;

/// Default `--stuck-after`: an order's workflow should end within 15 minutes.
pub const DEFAULT_STUCK_AFTER_SECONDS: i64 = 900;
/// Default `--approval-timeout`: the template's `ApprovalTimeoutSeconds` default.
pub const DEFAULT_APPROVAL_TIMEOUT_SECONDS: i64 = 86_400;
/// Default `--cancel-window`: the template's `CancelWindowSeconds` default (and maximum).
pub const DEFAULT_CANCEL_WINDOW_SECONDS: i64 = 900;
/// Default `--grace`: how far the asynchronous ledger may lag the payments table.
pub const DEFAULT_GRACE_SECONDS: i64 = 60;

/// A product's stock counters (products table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductStock {
    /// Key.
    pub sku: String,
    /// Units available now.
    pub stock: i64,
    /// Units ever stocked; `None` on items that predate the attribute.
    pub stocked_total: Option<i64>,
}

/// Units held for an order (reservations table, key `sku` + `order_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Product.
    pub sku: String,
    /// Order holding the units.
    pub order_id: String,
    /// Units held.
    pub quantity: i64,
    /// When (RFC 3339, as written by the workflow).
    pub reserved_at: String,
}

/// Units of one SKU in an order (from `items_json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUnits {
    /// Product.
    pub sku: String,
    /// Units ordered.
    pub quantity: i64,
}

/// What the checker needs of an order (orders table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    /// Key.
    pub order_id: String,
    /// Status.
    pub status: OrderStatus,
    /// Creation time, epoch milliseconds.
    pub created_at_ms: i64,
    /// Priced lines (empty until priced).
    pub lines: Vec<OrderUnits>,
    /// Total (`None` until priced).
    pub total: Option<Money>,
    /// Set by `ConfirmOrder` together with `CONFIRMED`: the order was confirmed once.
    pub charge_id: Option<String>,
    /// An approval task token was stored: the order waited for an admin.
    pub went_through_approval: bool,
}

impl OrderRecord {
    /// Units of `sku` in the order.
    pub fn quantity_of(&self, sku: &str) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.sku == sku)
            .fold(0i64, |sum, l| sum.saturating_add(l.quantity))
    }
}

/// Which side of the payment an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// `charge-<orderId>`, captured.
    Charge,
    /// `refund-<orderId>`, refunded.
    Refund,
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
        })
    }
}

/// A captured charge or a made refund (payments table). Items that only count attempts are
/// not operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOperation {
    /// Key: `charge-<orderId>` or `refund-<orderId>`.
    pub operation_id: String,
    /// Charge or refund.
    pub kind: OperationKind,
    /// The order.
    pub order_id: String,
    /// Amount captured or refunded.
    pub amount: Money,
    /// When, epoch seconds.
    pub created_at_s: i64,
}

/// One ledger entry (ledger table; guard items are not entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRecord {
    /// Partition key.
    pub order_id: String,
    /// Sort key: the FIFO sequence number, zero-padded.
    pub seq: String,
    /// The payment operation it records.
    pub operation_id: String,
    /// `PaymentCaptured` or `PaymentRefunded`.
    pub kind: String,
    /// Amount recorded.
    pub amount: Money,
    /// When, epoch seconds.
    pub recorded_at_s: i64,
}

/// The order counters of one day (analytics table; once-only markers are not days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounters {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `orders` (0 when absent).
    pub orders: i64,
    /// `revenue_minor` (0 when absent).
    pub revenue_minor: i64,
}

/// An item the reader could not map (reported as a [`Violation::Unreadable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedItem {
    /// Which table (`orders`, `payments` …).
    pub table: &'static str,
    /// The item's key.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// Everything the invariants read, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Products table.
    pub products: Vec<ProductStock>,
    /// Reservations table; `None` when not read (a stack without it): then the stock
    /// invariant is not checked.
    pub reservations: Option<Vec<Reservation>>,
    /// Orders table.
    pub orders: Vec<OrderRecord>,
    /// Payments table (completed operations only).
    pub payments: Vec<PaymentOperation>,
    /// Ledger table (entries only).
    pub ledger: Vec<LedgerRecord>,
    /// Analytics table (day items only); `None` unless `--analytics`.
    pub analytics: Option<Vec<DayCounters>>,
    /// Items that could not be mapped.
    pub malformed: Vec<MalformedItem>,
}

impl Snapshot {
    fn orders_by_id(&self) -> HashMap<&str, &OrderRecord> {
        self.orders
            .iter()
            .map(|o| (o.order_id.as_str(), o))
            .collect()
    }
}

/// When the check runs and how long things may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckConfig {
    /// Now, epoch milliseconds.
    pub now_ms: i64,
    /// An order's workflow must end within this (`--stuck-after`).
    pub stuck_after_seconds: i64,
    /// `ApprovalTimeoutSeconds` of the stack (`--approval-timeout`).
    pub approval_timeout_seconds: i64,
    /// `CancelWindowSeconds` of the stack (`--cancel-window`).
    pub cancel_window_seconds: i64,
    /// Writes younger than this are in flight for the asynchronous checks (`--grace`).
    pub grace_seconds: i64,
}

impl CheckConfig {
    /// The deadlines of the liveness check.
    pub const fn deadlines(&self) -> crate::orders::Deadlines {
        crate::orders::Deadlines {
            stuck_after_seconds: self.stuck_after_seconds,
            approval_timeout_seconds: self.approval_timeout_seconds,
            cancel_window_seconds: self.cancel_window_seconds,
        }
    }

    /// The defaults, at `now_ms`.
    pub const fn at(now_ms: i64) -> Self {
        Self {
            now_ms,
            stuck_after_seconds: DEFAULT_STUCK_AFTER_SECONDS,
            approval_timeout_seconds: DEFAULT_APPROVAL_TIMEOUT_SECONDS,
            cancel_window_seconds: DEFAULT_CANCEL_WINDOW_SECONDS,
            grace_seconds: DEFAULT_GRACE_SECONDS,
        }
    }

    /// Whether something written at `at_ms` is younger than the grace period.
    fn in_flight(&self, at_ms: i64) -> bool {
        self.now_ms.saturating_sub(at_ms) < self.grace_seconds.saturating_mul(1000)
    }
}

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// 1. Stock.
    Stock,
    /// 2. Money.
    Money,
    /// 3. Ledger.
    Ledger,
    /// 4. Analytics.
    Analytics,
    /// 5. Liveness.
    Liveness,
    /// An item none of them could read.
    Data,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Self; 6] = [
        Self::Stock,
        Self::Money,
        Self::Ledger,
        Self::Analytics,
        Self::Liveness,
        Self::Data,
    ];

    /// Its name in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Money => "money",
            Self::Ledger => "ledger",
            Self::Analytics => "analytics",
            Self::Liveness => "liveness",
            Self::Data => "data",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant, naming the product / order / operation and the numbers. Its
/// `Display` is the report's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// `stock + reserved + fulfilled ≠ stocked_total`.
    StockMismatch {
        /// Product.
        sku: String,
        /// Its `stock`.
        stock: i64,
        /// Σ its reservations.
        reserved: i64,
        /// Σ its units in `FULFILLED` orders.
        fulfilled: i64,
        /// Its `stocked_total`.
        stocked_total: i64,
    },
    /// A reservation of a `FAILED`/`REJECTED`/`CANCELLED` or `FULFILLED` order.
    StockHeldForEndedOrder {
        /// Product.
        sku: String,
        /// Order.
        order_id: String,
        /// Its status.
        status: OrderStatus,
        /// Units held.
        quantity: i64,
    },
    /// A reservation of an order that is not in the orders table.
    ReservationWithoutOrder {
        /// Product.
        sku: String,
        /// Order.
        order_id: String,
        /// Units held.
        quantity: i64,
    },
    /// A reservation of a product that is not in the products table.
    ReservationWithoutProduct {
        /// Product.
        sku: String,
        /// Order.
        order_id: String,
        /// Units held.
        quantity: i64,
    },
    /// A reservation that holds another quantity than the order has of the SKU.
    ReservationQuantityMismatch {
        /// Product.
        sku: String,
        /// Order.
        order_id: String,
        /// Units held.
        reserved: i64,
        /// Units ordered.
        ordered: i64,
    },
    /// `captured − refunded ≠ expected`.
    MoneyMismatch {
        /// Order.
        order_id: String,
        /// Its status.
        status: OrderStatus,
        /// Σ captured, minor units.
        captured: i64,
        /// Σ refunded, minor units.
        refunded: i64,
        /// The total (`CONFIRMED`/`FULFILLED`) or 0.
        expected: i64,
    },
    /// A `CONFIRMED`/`FULFILLED` order without a total to compare with.
    OrderWithoutTotal {
        /// Order.
        order_id: String,
        /// Its status.
        status: OrderStatus,
    },
    /// A captured/refunded operation of an order that is not in the orders table.
    PaymentWithoutOrder {
        /// Operation.
        operation_id: String,
        /// The order it names.
        order_id: String,
        /// Its amount.
        amount: Money,
    },
    /// An operation in another currency than its order's total.
    CurrencyMismatch {
        /// Operation.
        operation_id: String,
        /// Its amount.
        amount: Money,
        /// The order's total.
        total: Money,
    },
    /// An operation with no ledger entry (older than the grace period).
    LedgerMissing {
        /// Operation.
        operation_id: String,
        /// Its amount.
        amount: Money,
    },
    /// An operation with more than one ledger entry.
    LedgerDuplicated {
        /// Operation.
        operation_id: String,
        /// Where its entries are (`<order_id>/<seq>`).
        entries: Vec<String>,
    },
    /// An entry that records another amount than the operation.
    LedgerAmountMismatch {
        /// Operation.
        operation_id: String,
        /// In the payments table.
        payment: Money,
        /// In the ledger.
        ledger: Money,
    },
    /// An order's refund entry is not after its charge entry.
    RefundBeforeCharge {
        /// Order.
        order_id: String,
        /// The charge entry's `seq`.
        charge_seq: String,
        /// The refund entry's `seq`.
        refund_seq: String,
    },
    /// A ledger entry whose operation is not captured/refunded in the payments table.
    LedgerWithoutPayment {
        /// Entry partition key.
        order_id: String,
        /// Entry sort key.
        seq: String,
        /// The operation it claims.
        operation_id: String,
        /// Its amount.
        amount: Money,
    },
    /// `Σ_days counter ≠ expected`.
    AnalyticsMismatch {
        /// `orders` or `revenue_minor`.
        counter: &'static str,
        /// Σ over the days.
        recorded: i64,
        /// From the orders table.
        expected: i64,
        /// Days summed.
        days: usize,
    },
    /// A non-terminal order past its deadline.
    Stuck {
        /// Order.
        order_id: String,
        /// Its status.
        status: OrderStatus,
        /// Its age, seconds.
        age_seconds: i64,
        /// Its deadline, seconds after creation.
        deadline_seconds: i64,
    },
    /// An item the reader could not map.
    Unreadable(MalformedItem),
}

impl Violation {
    /// The invariant it breaks.
    pub const fn invariant(&self) -> Invariant {
        match self {
            Self::StockMismatch { .. }
            | Self::StockHeldForEndedOrder { .. }
            | Self::ReservationWithoutOrder { .. }
            | Self::ReservationWithoutProduct { .. }
            | Self::ReservationQuantityMismatch { .. } => Invariant::Stock,
            Self::MoneyMismatch { .. }
            | Self::OrderWithoutTotal { .. }
            | Self::PaymentWithoutOrder { .. }
            | Self::CurrencyMismatch { .. } => Invariant::Money,
            Self::LedgerMissing { .. }
            | Self::LedgerDuplicated { .. }
            | Self::LedgerAmountMismatch { .. }
            | Self::RefundBeforeCharge { .. }
            | Self::LedgerWithoutPayment { .. } => Invariant::Ledger,
            Self::AnalyticsMismatch { .. } => Invariant::Analytics,
            Self::Stuck { .. } => Invariant::Liveness,
            Self::Unreadable(_) => Invariant::Data,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.invariant())?;
        match self {
            Self::StockMismatch {
                sku,
                stock,
                reserved,
                fulfilled,
                stocked_total,
            } => {
                let accounted = stock.saturating_add(*reserved).saturating_add(*fulfilled);
                write!(
                    f,
                    "product {sku}: stock {stock} + reserved {reserved} + fulfilled {fulfilled} = \
                     {accounted}, stocked_total {stocked_total} ({:+} units)",
                    accounted.saturating_sub(*stocked_total)
                )
            }
            Self::StockHeldForEndedOrder {
                sku,
                order_id,
                status,
                quantity,
            } => write!(
                f,
                "product {sku}: {quantity} units still reserved for {status} order {order_id}"
            ),
            Self::ReservationWithoutOrder {
                sku,
                order_id,
                quantity,
            } => write!(
                f,
                "product {sku}: {quantity} units reserved for order {order_id}, which does not exist"
            ),
            Self::ReservationWithoutProduct {
                sku,
                order_id,
                quantity,
            } => write!(
                f,
                "product {sku}: {quantity} units reserved for order {order_id}, but there is no such product"
            ),
            Self::ReservationQuantityMismatch {
                sku,
                order_id,
                reserved,
                ordered,
            } => write!(
                f,
                "product {sku}: {reserved} units reserved for order {order_id}, which ordered {ordered}"
            ),
            Self::MoneyMismatch {
                order_id,
                status,
                captured,
                refunded,
                expected,
            } => write!(
                f,
                "order {order_id} {status}: captured {captured} − refunded {refunded} = {}, expected {expected} ({:+})",
                captured.saturating_sub(*refunded),
                captured.saturating_sub(*refunded).saturating_sub(*expected)
            ),
            Self::OrderWithoutTotal { order_id, status } => {
                write!(f, "order {order_id} {status} has no total_minor/currency")
            }
            Self::PaymentWithoutOrder {
                operation_id,
                order_id,
                amount,
            } => write!(
                f,
                "operation {operation_id} ({}) names order {order_id}, which does not exist",
                show(amount)
            ),
            Self::CurrencyMismatch {
                operation_id,
                amount,
                total,
            } => write!(
                f,
                "operation {operation_id} is {}, its order's total is {}",
                show(amount),
                show(total)
            ),
            Self::LedgerMissing {
                operation_id,
                amount,
            } => write!(
                f,
                "operation {operation_id} ({}) has no ledger entry",
                show(amount)
            ),
            Self::LedgerDuplicated {
                operation_id,
                entries,
            } => write!(
                f,
                "operation {operation_id} has {} ledger entries: {}",
                entries.len(),
                entries.join(", ")
            ),
            Self::LedgerAmountMismatch {
                operation_id,
                payment,
                ledger,
            } => write!(
                f,
                "operation {operation_id}: {} in payments, {} in the ledger",
                show(payment),
                show(ledger)
            ),
            Self::RefundBeforeCharge {
                order_id,
                charge_seq,
                refund_seq,
            } => write!(
                f,
                "order {order_id}: refund entry seq {refund_seq} is not after charge entry seq {charge_seq}"
            ),
            Self::LedgerWithoutPayment {
                order_id,
                seq,
                operation_id,
                amount,
            } => write!(
                f,
                "entry {order_id}/{seq} records {operation_id} ({}), which the payments table has not captured/refunded",
                show(amount)
            ),
            Self::AnalyticsMismatch {
                counter,
                recorded,
                expected,
                days,
            } => write!(
                f,
                "{counter}: {recorded} over {days} days, {expected} from the confirmed orders ({:+})",
                recorded.saturating_sub(*expected)
            ),
            Self::Stuck {
                order_id,
                status,
                age_seconds,
                deadline_seconds,
            } => write!(
                f,
                "order {order_id} is {status} {age_seconds} s after creation (deadline {deadline_seconds} s)"
            ),
            Self::Unreadable(item) => {
                write!(f, "{} item {}: {}", item.table, item.key, item.problem)
            }
        }
    }
}

/// `2598 EUR`: minor units, as the tables store them.
fn show(money: &Money) -> String {
    format!("{} {}", money.amount_minor, money.currency)
}

/// Something the checker did not check, and why (not a violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// No reservations table was given: the stock invariant was not checked.
    ReservationsNotRead,
    /// Products without `stocked_total`, skipped by the stock invariant.
    NoStockedTotal(Vec<String>),
    /// The analytics invariant was not asked for.
    AnalyticsNotChecked,
    /// Writes younger than the grace period, not judged by the asynchronous checks.
    InFlight {
        /// Operations without a ledger entry yet.
        operations: usize,
        /// Ledger entries without a payment operation yet.
        entries: usize,
        /// Reservations of orders not (yet) seen.
        reservations: usize,
        /// Payment operations of orders not (yet) seen.
        payments: usize,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservationsNotRead => f.write_str(
                "stock: no reservations table given (--reservations-table): stock invariant not checked",
            ),
            Self::NoStockedTotal(skus) => {
                const SHOWN: usize = 5;
                let mut list = skus.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
                if skus.len() > SHOWN {
                    list.push_str(&format!(", … ({} more)", skus.len() - SHOWN));
                }
                write!(
                    f,
                    "stock: {} products have no stocked_total and were skipped: {list}",
                    skus.len()
                )
            }
            Self::AnalyticsNotChecked => f.write_str(
                "analytics: not checked (opt-in with --analytics: test events make it fail on shared stacks)",
            ),
            Self::InFlight {
                operations,
                entries,
                reservations,
                payments,
            } => write!(
                f,
                "in flight (younger than the grace period, not judged): {operations} operations \
                 without a ledger entry, {entries} ledger entries without an operation, \
                 {reservations} reservations and {payments} payment operations of unseen orders"
            ),
        }
    }
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every violation, by invariant then text.
    pub violations: Vec<Violation>,
    /// What was not checked.
    pub notes: Vec<Note>,
    /// One line: what was checked and how it went.
    pub summary: String,
}

/// Runs every invariant over `snapshot` (analytics only when it was read).
pub fn check(snapshot: &Snapshot, config: &CheckConfig) -> Report {
    let invariants: [fn(&Snapshot, &CheckConfig) -> Vec<Violation>; 5] =
        [stock, money, ledger, analytics, liveness];
    let mut violations: Vec<Violation> = invariants
        .iter()
        .flat_map(|invariant| invariant(snapshot, config))
        .chain(
            snapshot
                .malformed
                .iter()
                .cloned()
                .map(Violation::Unreadable),
        )
        .collect();
    violations.sort_by_cached_key(|v| (v.invariant(), v.to_string()));
    let summary = summary(snapshot, &violations);
    Report {
        violations,
        notes: notes(snapshot, config),
        summary,
    }
}

fn summary(snapshot: &Snapshot, violations: &[Violation]) -> String {
    let checked = format!(
        "{} products, {}, {} orders, {} payment operations, {} ledger entries, {}",
        snapshot.products.len(),
        snapshot.reservations.as_ref().map_or_else(
            || "reservations not read".to_owned(),
            |r| format!("{} reservations", r.len())
        ),
        snapshot.orders.len(),
        snapshot.payments.len(),
        snapshot.ledger.len(),
        snapshot.analytics.as_ref().map_or_else(
            || "analytics not checked".to_owned(),
            |d| format!("{} analytics days", d.len())
        ),
    );
    if violations.is_empty() {
        return format!("reconcile: all invariants hold ({checked})");
    }
    let per_invariant = Invariant::ALL
        .iter()
        .filter_map(|i| {
            let count = violations.iter().filter(|v| v.invariant() == *i).count();
            (count > 0).then(|| format!("{i} {count}"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "reconcile: {} violations ({per_invariant}) in {checked}",
        violations.len()
    )
}

/// What [`check`] skipped.
pub fn notes(snapshot: &Snapshot, config: &CheckConfig) -> Vec<Note> {
    let mut notes = Vec::new();
    if snapshot.reservations.is_none() {
        notes.push(Note::ReservationsNotRead);
    } else {
        let mut skipped: Vec<String> = snapshot
            .products
            .iter()
            .filter(|p| p.stocked_total.is_none())
            .map(|p| p.sku.clone())
            .collect();
        if !skipped.is_empty() {
            skipped.sort();
            notes.push(Note::NoStockedTotal(skipped));
        }
    }
    if snapshot.analytics.is_none() {
        notes.push(Note::AnalyticsNotChecked);
    }
    let in_flight = in_flight(snapshot, config);
    if in_flight != (InFlight::default()) {
        notes.push(Note::InFlight {
            operations: in_flight.operations,
            entries: in_flight.entries,
            reservations: in_flight.reservations,
            payments: in_flight.payments,
        });
    }
    notes
}

#[derive(Debug, Default, PartialEq, Eq)]
struct InFlight {
    operations: usize,
    entries: usize,
    reservations: usize,
    payments: usize,
}

/// Counts what the invariants skip as too young to judge (the same tests as they apply).
fn in_flight(snapshot: &Snapshot, config: &CheckConfig) -> InFlight {
    let orders = snapshot.orders_by_id();
    let entries = ledger_by_operation(&snapshot.ledger);
    let operations: HashSet<&str> = snapshot
        .payments
        .iter()
        .map(|p| p.operation_id.as_str())
        .collect();
    InFlight {
        operations: snapshot
            .payments
            .iter()
            .filter(|p| {
                !entries.contains_key(p.operation_id.as_str())
                    && config.in_flight(p.created_at_s.saturating_mul(1000))
            })
            .count(),
        entries: snapshot
            .ledger
            .iter()
            .filter(|e| {
                !operations.contains(e.operation_id.as_str())
                    && config.in_flight(e.recorded_at_s.saturating_mul(1000))
            })
            .count(),
        reservations: snapshot.reservations.as_ref().map_or(0, |r| {
            r.iter()
                .filter(|r| {
                    !orders.contains_key(r.order_id.as_str()) && reservation_in_flight(r, config)
                })
                .count()
        }),
        payments: snapshot
            .payments
            .iter()
            .filter(|p| {
                !orders.contains_key(p.order_id.as_str())
                    && config.in_flight(p.created_at_s.saturating_mul(1000))
            })
            .count(),
    }
}

/// A reservation younger than the grace period (its order may have been created after the
/// orders were read). An unreadable `reserved_at` is never in flight.
fn reservation_in_flight(reservation: &Reservation, config: &CheckConfig) -> bool {
    time::OffsetDateTime::parse(
        &reservation.reserved_at,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
    .and_then(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok())
    .is_some_and(|at_ms| config.in_flight(at_ms))
}

/// Invariant 1 (module doc): stock accounted for per product, and every reservation held for
/// a live order of an existing product, with the order's quantity.
pub fn stock(snapshot: &Snapshot, config: &CheckConfig) -> Vec<Violation> {
    let Some(reservations) = &snapshot.reservations else {
        return Vec::new();
    };
    let orders = snapshot.orders_by_id();
    let mut violations = Vec::new();

    let mut reserved: HashMap<&str, i64> = HashMap::new();
    for r in reservations {
        let sum = reserved.entry(r.sku.as_str()).or_default();
        *sum = sum.saturating_add(r.quantity);
    }
    let mut fulfilled: HashMap<&str, i64> = HashMap::new();
    for order in snapshot
        .orders
        .iter()
        .filter(|o| o.status == OrderStatus::Fulfilled)
    {
        for line in &order.lines {
            let sum = fulfilled.entry(line.sku.as_str()).or_default();
            *sum = sum.saturating_add(line.quantity);
        }
    }
    for product in &snapshot.products {
        let Some(stocked_total) = product.stocked_total else {
            continue;
        };
        let reserved = reserved.get(product.sku.as_str()).copied().unwrap_or(0);
        let fulfilled = fulfilled.get(product.sku.as_str()).copied().unwrap_or(0);
        if product
            .stock
            .saturating_add(reserved)
            .saturating_add(fulfilled)
            != stocked_total
        {
            violations.push(Violation::StockMismatch {
                sku: product.sku.clone(),
                stock: product.stock,
                reserved,
                fulfilled,
                stocked_total,
            });
        }
    }

    let products: HashSet<&str> = snapshot.products.iter().map(|p| p.sku.as_str()).collect();
    for r in reservations {
        match orders.get(r.order_id.as_str()) {
            None if reservation_in_flight(r, config) => {}
            None => violations.push(Violation::ReservationWithoutOrder {
                sku: r.sku.clone(),
                order_id: r.order_id.clone(),
                quantity: r.quantity,
            }),
            Some(order) if order.status.is_dead() || order.status == OrderStatus::Fulfilled => {
                violations.push(Violation::StockHeldForEndedOrder {
                    sku: r.sku.clone(),
                    order_id: r.order_id.clone(),
                    status: order.status,
                    quantity: r.quantity,
                });
            }
            Some(order) => {
                let ordered = order.quantity_of(&r.sku);
                if ordered != r.quantity {
                    violations.push(Violation::ReservationQuantityMismatch {
                        sku: r.sku.clone(),
                        order_id: r.order_id.clone(),
                        reserved: r.quantity,
                        ordered,
                    });
                }
            }
        }
        if !products.contains(r.sku.as_str()) {
            violations.push(Violation::ReservationWithoutProduct {
                sku: r.sku.clone(),
                order_id: r.order_id.clone(),
                quantity: r.quantity,
            });
        }
    }
    violations
}

/// Invariant 2 (module doc): what each settled order was charged, net of refunds.
pub fn money(snapshot: &Snapshot, config: &CheckConfig) -> Vec<Violation> {
    let orders = snapshot.orders_by_id();
    let mut violations = Vec::new();
    // order id → (captured, refunded), minor units.
    let mut net: HashMap<&str, (i64, i64)> = HashMap::new();
    for op in &snapshot.payments {
        let Some(order) = orders.get(op.order_id.as_str()) else {
            if !config.in_flight(op.created_at_s.saturating_mul(1000)) {
                violations.push(Violation::PaymentWithoutOrder {
                    operation_id: op.operation_id.clone(),
                    order_id: op.order_id.clone(),
                    amount: op.amount,
                });
            }
            continue;
        };
        if let Some(total) = order.total
            && total.currency != op.amount.currency
        {
            violations.push(Violation::CurrencyMismatch {
                operation_id: op.operation_id.clone(),
                amount: op.amount,
                total,
            });
        }
        let (captured, refunded) = net.entry(op.order_id.as_str()).or_default();
        match op.kind {
            OperationKind::Charge => *captured = captured.saturating_add(op.amount.amount_minor),
            OperationKind::Refund => *refunded = refunded.saturating_add(op.amount.amount_minor),
        }
    }
    for order in &snapshot.orders {
        let expected = match order.status {
            OrderStatus::Confirmed | OrderStatus::Fulfilled => match order.total {
                Some(total) => total.amount_minor,
                None => {
                    violations.push(Violation::OrderWithoutTotal {
                        order_id: order.order_id.clone(),
                        status: order.status,
                    });
                    continue;
                }
            },
            status if status.is_dead() => 0,
            _ => continue,
        };
        let (captured, refunded) = net.get(order.order_id.as_str()).copied().unwrap_or((0, 0));
        if captured.saturating_sub(refunded) != expected {
            violations.push(Violation::MoneyMismatch {
                order_id: order.order_id.clone(),
                status: order.status,
                captured,
                refunded,
                expected,
            });
        }
    }
    violations
}

fn ledger_by_operation(entries: &[LedgerRecord]) -> HashMap<&str, Vec<&LedgerRecord>> {
    let mut by_operation: HashMap<&str, Vec<&LedgerRecord>> = HashMap::new();
    for entry in entries {
        by_operation
            .entry(entry.operation_id.as_str())
            .or_default()
            .push(entry);
    }
    by_operation
}

/// Sequence numbers are zero-padded to 20 digits; comparing by length first keeps the order
/// numeric even for one that was not.
fn seq_key(seq: &str) -> (usize, &str) {
    (seq.len(), seq)
}

/// Invariant 3 (module doc): one ledger entry per operation, charge before refund, no entry
/// without an operation.
pub fn ledger(snapshot: &Snapshot, config: &CheckConfig) -> Vec<Violation> {
    let entries = ledger_by_operation(&snapshot.ledger);
    let mut violations = Vec::new();
    // order id → (charge entry seqs, refund entry seqs)
    let mut per_order: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for op in &snapshot.payments {
        let found = entries
            .get(op.operation_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        match found {
            [] if config.in_flight(op.created_at_s.saturating_mul(1000)) => {}
            [] => violations.push(Violation::LedgerMissing {
                operation_id: op.operation_id.clone(),
                amount: op.amount,
            }),
            [entry] if entry.amount != op.amount => {
                violations.push(Violation::LedgerAmountMismatch {
                    operation_id: op.operation_id.clone(),
                    payment: op.amount,
                    ledger: entry.amount,
                });
            }
            [_] => {}
            several => violations.push(Violation::LedgerDuplicated {
                operation_id: op.operation_id.clone(),
                entries: several
                    .iter()
                    .map(|e| format!("{}/{}", e.order_id, e.seq))
                    .collect(),
            }),
        }
        let (charges, refunds) = per_order.entry(op.order_id.as_str()).or_default();
        let seqs = found.iter().map(|e| e.seq.as_str());
        match op.kind {
            OperationKind::Charge => charges.extend(seqs),
            OperationKind::Refund => refunds.extend(seqs),
        }
    }
    for (order_id, (charges, refunds)) in per_order {
        let last_charge = charges.iter().copied().max_by_key(|s| seq_key(s));
        let first_refund = refunds.iter().copied().min_by_key(|s| seq_key(s));
        if let (Some(charge), Some(refund)) = (last_charge, first_refund)
            && seq_key(refund) <= seq_key(charge)
        {
            violations.push(Violation::RefundBeforeCharge {
                order_id: order_id.to_owned(),
                charge_seq: charge.to_owned(),
                refund_seq: refund.to_owned(),
            });
        }
    }
    let operations: HashSet<&str> = snapshot
        .payments
        .iter()
        .map(|p| p.operation_id.as_str())
        .collect();
    for entry in &snapshot.ledger {
        if !operations.contains(entry.operation_id.as_str())
            && !config.in_flight(entry.recorded_at_s.saturating_mul(1000))
        {
            violations.push(Violation::LedgerWithoutPayment {
                order_id: entry.order_id.clone(),
                seq: entry.seq.clone(),
                operation_id: entry.operation_id.clone(),
                amount: entry.amount,
            });
        }
    }
    violations
}

/// Whether `OrderPlaced` was published for the order (module doc, invariant 4).
pub fn was_placed(order: &OrderRecord) -> bool {
    match order.status {
        OrderStatus::Confirmed
        | OrderStatus::Fulfilled
        | OrderStatus::Cancelling
        | OrderStatus::Cancelled => true,
        OrderStatus::RefundPending => order.charge_id.is_some(),
        _ => false,
    }
}

/// Invariant 4 (module doc): the daily order counters add up to the placed orders. Checks
/// nothing when the analytics table was not read.
pub fn analytics(snapshot: &Snapshot, _config: &CheckConfig) -> Vec<Violation> {
    let Some(days) = &snapshot.analytics else {
        return Vec::new();
    };
    let placed: Vec<&OrderRecord> = snapshot.orders.iter().filter(|o| was_placed(o)).collect();
    let expected_orders = i64::try_from(placed.len()).unwrap_or(i64::MAX);
    let expected_revenue = placed.iter().fold(0i64, |sum, o| {
        sum.saturating_add(o.total.map_or(0, |t| t.amount_minor))
    });
    let recorded_orders = days
        .iter()
        .fold(0i64, |sum, d| sum.saturating_add(d.orders));
    let recorded_revenue = days
        .iter()
        .fold(0i64, |sum, d| sum.saturating_add(d.revenue_minor));
    let mut violations = Vec::new();
    for (counter, recorded, expected) in [
        (crate::analytics::ORDERS, recorded_orders, expected_orders),
        (
            crate::analytics::REVENUE_MINOR,
            recorded_revenue,
            expected_revenue,
        ),
    ] {
        if recorded != expected {
            violations.push(Violation::AnalyticsMismatch {
                counter,
                recorded,
                expected,
                days: days.len(),
            });
        }
    }
    violations
}

/// An order's deadline, seconds after creation (module doc, invariant 5): the allowance of
/// [`crate::orders::Deadlines`], as the reconciler uses it.
pub fn deadline_seconds(order: &OrderRecord, config: &CheckConfig) -> i64 {
    config
        .deadlines()
        .allowance(order.status, order.went_through_approval)
        .unwrap_or(i64::MAX)
}

/// Invariant 5 (module doc): no order stays in flight past its deadline.
pub fn liveness(snapshot: &Snapshot, config: &CheckConfig) -> Vec<Violation> {
    snapshot
        .orders
        .iter()
        .filter(|o| !o.status.is_terminal())
        .filter_map(|order| {
            let age_seconds = config.now_ms.saturating_sub(order.created_at_ms) / 1000;
            let deadline_seconds = deadline_seconds(order, config);
            (age_seconds > deadline_seconds).then(|| Violation::Stuck {
                order_id: order.order_id.clone(),
                status: order.status,
                age_seconds,
                deadline_seconds,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
