//! repair: the queue handler.

use lambda_kit::messaging::{
    EventEnvelope, EventHandler, EventPublisher, FifoKeys, ProcessError, QueueSender, SendError,
};

use super::FUNCTION_NAME;
use crate::cart::{CartStore, cart_id_from_pk};
use crate::catalog::Money;
use crate::events::{
    FollowUp, OrderCancelled, OrderPlaced, PaymentOperation, RepairRequested, ShopEvent,
};
use crate::orders::{Order, OrderId, OrderStatus, OrderStore};
use crate::payment::{PaymentProvider, RefundRequest};
use crate::reservations::StockRelease;
use crate::store::StoreError;

/// The `eventId` of the `PaymentRefunded` a repair sends to the ledger: the same for every
/// attempt, so a resend is the same event.
pub fn refunded_event_id(order_id: &str) -> String {
    lambda_kit::ids::uuid_from_name(format!("PaymentRefunded\nrefund-{order_id}").as_bytes())
}

/// The `eventId` of the `PaymentCaptured` a repair sends ahead of its refund (module doc).
pub fn captured_event_id(order_id: &str) -> String {
    lambda_kit::ids::uuid_from_name(format!("PaymentCaptured\ncharge-{order_id}").as_bytes())
}

/// The `eventId` of the `OrderPlaced` an `ORDER_PLACED` follow-up publishes: the one the
/// checkout publishes too ([`OrderPlaced::event_id`](crate::events::OrderPlaced::event_id)),
/// so the consumers (idempotent on `eventId`) see one event however often it is repaired.
pub fn order_placed_event_id(order_id: &str) -> String {
    crate::events::OrderPlaced::event_id(order_id)
}

/// Why a follow-up could not be done (the record fails with it).
#[derive(Debug, thiserror::Error)]
pub enum FollowUpError {
    /// `CLEAR_CART` without `cartKey` or `cartVersion`.
    #[error("CLEAR_CART needs cartKey and cartVersion")]
    MissingCart,
    /// A `cartKey` that is no cart's key.
    #[error("cartKey {0:?} is not a cart's key (CART#<64 hex digits>)")]
    BadCartKey(String),
    /// The order is not in the orders table.
    #[error("unknown order {0}")]
    UnknownOrder(OrderId),
    /// A confirmed order without a total: nothing to build the event from.
    #[error("order {0} has no total")]
    NoTotal(OrderId),
    /// The orders table or the sessions table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The topic or the ledger queue refused the message.
    #[error("send failed: {0}")]
    Send(String),
}

impl From<FollowUpError> for ProcessError {
    fn from(err: FollowUpError) -> Self {
        match err {
            // No retry can fix these: the DLQ and its alarm bring them to a human.
            FollowUpError::MissingCart
            | FollowUpError::BadCartKey(_)
            | FollowUpError::UnknownOrder(_)
            | FollowUpError::NoTotal(_) => Self::Malformed(err.to_string()),
            FollowUpError::Store(store) => store.into(),
            FollowUpError::Send(_) => Self::Failed(err.to_string()),
        }
    }
}

/// Whether the order was confirmed at some point, so that its `OrderPlaced` is owed: it is
/// (or went on from) `CONFIRMED`. A `REFUND_PENDING` order got there from `CONFIRMED` only on
/// its way to `CANCELLED` (a checkout's own refund ends `FAILED`/`REJECTED`).
fn was_confirmed(order: &Order) -> bool {
    match order.status {
        OrderStatus::Confirmed
        | OrderStatus::Fulfilled
        | OrderStatus::Cancelling
        | OrderStatus::Cancelled => true,
        OrderStatus::RefundPending => {
            order.charge_id.is_some()
                && order.refund_pending_outcome == Some(OrderStatus::Cancelled)
        }
        _ => false,
    }
}

/// CloudWatch metric names of the repair consumer (EMF, Count).
pub mod metric {
    /// A refund attempt that failed: the order is (still) owed its money; the record is
    /// retried. Above zero for long means a provider outage or a stuck refund.
    pub const REFUNDS_OWED: &str = "RefundsOwed";
    /// Owed refunds made (by `Currency`); at least once: a retry after the ledger send failed
    /// counts the same refund again.
    pub const REFUNDS_REPAID: &str = "RefundsRepaid";
    /// Their amount in minor units (by `Currency`).
    pub const REFUNDED_MINOR: &str = "RefundedMinor";
    /// Orders the repair ended, by `Outcome` (`FAILED`, `REJECTED`, `CANCELLED`).
    pub const ORDERS_REPAIRED: &str = "OrdersRepaired";
    /// Follow-ups of confirmed orders done, by `FollowUp` (`ORDER_PLACED`, `LEDGER_CHARGE`,
    /// `CLEAR_CART`); at least once (a redelivery counts again); a skipped one (never
    /// confirmed, cart changed) is not counted.
    pub const FOLLOW_UPS_REPAIRED: &str = "FollowUpsRepaired";
}

/// The repair consumer: refund what is owed, write it to the ledger, release what is held,
/// end the order; or redo one follow-up of a confirmed order.
#[derive(Debug)]
pub struct Repair<O, P, S, L, E, C> {
    orders: O,
    provider: P,
    stock: S,
    ledger: L,
    publisher: E,
    carts: C,
    clock: lambda_kit::clock::Clock,
}

impl<O, P, S, L, E, C> Repair<O, P, S, L, E, C>
where
    O: OrderStore,
    P: PaymentProvider,
    S: StockRelease,
    L: QueueSender,
    E: EventPublisher,
    C: CartStore,
{
    /// A repair over the orders table, the payment provider, the stock, the payments-ledger
    /// FIFO queue, the events topic (for `OrderCancelled` and `OrderPlaced`) and the carts
    /// (for `CLEAR_CART`).
    pub fn new(orders: O, provider: P, stock: S, ledger: L, publisher: E, carts: C) -> Self {
        Self {
            orders,
            provider,
            stock,
            ledger,
            publisher,
            carts,
            clock: lambda_kit::clock::Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: lambda_kit::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The orders store (tests).
    pub fn orders(&self) -> &O {
        &self.orders
    }

    /// The provider (tests).
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The stock (tests).
    pub fn stock(&self) -> &S {
        &self.stock
    }

    /// The ledger queue (tests).
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The publisher (tests).
    pub fn publisher(&self) -> &E {
        &self.publisher
    }

    /// The carts (tests).
    pub fn carts(&self) -> &C {
        &self.carts
    }

    async fn repair(
        &self,
        envelope: &EventEnvelope,
        request: RepairRequested,
    ) -> Result<(), ProcessError> {
        if let Some(follow_up) = request.follow_up {
            return self.follow_up(envelope, &request, follow_up).await;
        }
        let outcome = OrderStatus::parse(&request.outcome)
            .ok()
            .filter(|s| {
                matches!(
                    s,
                    OrderStatus::Failed | OrderStatus::Rejected | OrderStatus::Cancelled
                )
            })
            .ok_or_else(|| {
                ProcessError::Malformed(format!(
                    "RepairRequested outcome {:?} is not FAILED, REJECTED or CANCELLED",
                    request.outcome
                ))
            })?;
        let order_id = &request.order_id;
        let order = self.orders.get(order_id).await?.ok_or_else(|| {
            ProcessError::Malformed(format!("RepairRequested for an unknown order {order_id}"))
        })?;
        tracing::info!(
            order_id = %order_id,
            status = order.status.as_str(),
            outcome = outcome.as_str(),
            reason = %request.reason,
            refund = request.refund,
            cause = %request.cause,
            "repair requested"
        );
        if order.status == OrderStatus::Fulfilled {
            // Shipped: nothing to give back (fulfilment consumes its reservations itself).
            tracing::warn!(order_id = %order_id, "order shipped: nothing to repair");
            return Ok(());
        }
        if request.refund && !order.status.is_terminal() {
            self.refund(envelope, &order, outcome).await?;
        }
        let mut released = 0;
        for line in &order.items {
            if self
                .stock
                .release(&line.sku, order_id, line.quantity)
                .await?
            {
                released += 1;
            }
        }
        tracing::info!(order_id = %order_id, lines_released = released, "stock released");
        if order.status.is_terminal() {
            tracing::info!(order_id = %order_id, status = order.status.as_str(), "order had ended already");
            return Ok(());
        }
        if self
            .orders
            .settle(order_id, outcome, &request.reason)
            .await?
        {
            tracing::info!(order_id = %order_id, outcome = outcome.as_str(), "order ended");
            lambda_kit::metrics::count(
                metric::ORDERS_REPAIRED,
                1,
                &[("Outcome", outcome.as_str())],
            );
            if outcome == OrderStatus::Cancelled {
                self.publish_cancelled(envelope, &order).await?;
            }
        }
        Ok(())
    }

    /// Refunds `refund-<orderId>` and sends it to the ledger; on failure records the order as
    /// owed a refund and fails the record (retried by SQS).
    async fn refund(
        &self,
        envelope: &EventEnvelope,
        order: &Order,
        outcome: OrderStatus,
    ) -> Result<(), ProcessError> {
        let order_id = order.order_id.as_str();
        let request = RefundRequest {
            order_id: order_id.to_owned(),
            operation_id: format!("refund-{order_id}"),
            charge_operation_id: format!("charge-{order_id}"),
        };
        let refund = match self.provider.refund(&request).await {
            Ok(refund) => refund,
            Err(err) => {
                let reason = err.to_string();
                tracing::warn!(order_id, error = %reason, "refund failed: owed, retried");
                lambda_kit::metrics::count(metric::REFUNDS_OWED, 1, &[]);
                // Best effort: the record fails either way and is retried.
                if let Err(mark) = self
                    .orders
                    .mark_refund_pending(&order.order_id, outcome, &reason)
                    .await
                {
                    tracing::error!(order_id, error = %mark, "could not record the owed refund");
                }
                return Err(ProcessError::Failed(format!(
                    "refund of {order_id}: {reason}"
                )));
            }
        };
        let Some(amount) = refund.amount.filter(|_| refund.refunded) else {
            tracing::info!(order_id, "nothing had been captured: nothing refunded");
            return Ok(());
        };
        // The charge first: a checkout that failed between the charge and its ledger entry
        // never sent it. The ledger keeps one entry per operation, so when it is there
        // already this changes nothing; in the same FIFO group it lands before the refund.
        let operation = |operation_id: &str| PaymentOperation {
            order_id: order.order_id.clone(),
            operation_id: operation_id.to_owned(),
            amount,
        };
        let entries = [
            (
                ShopEvent::PaymentCaptured(operation(&request.charge_operation_id)),
                request.charge_operation_id.as_str(),
                captured_event_id(order_id),
            ),
            (
                ShopEvent::PaymentRefunded(operation(&request.operation_id)),
                request.operation_id.as_str(),
                refunded_event_id(order_id),
            ),
        ];
        for (event, operation_id, event_id) in entries {
            self.send_to_ledger(envelope, order_id, &event, operation_id, event_id)
                .await
                .map_err(|e| ProcessError::Failed(e.to_string()))?;
        }
        tracing::info!(
            order_id,
            amount = amount.amount_minor,
            "refunded and sent to the ledger"
        );
        let currency = amount.currency.as_str();
        lambda_kit::metrics::count(metric::REFUNDS_REPAID, 1, &[("Currency", currency)]);
        lambda_kit::metrics::count(
            metric::REFUNDED_MINOR,
            u64::try_from(amount.amount_minor).unwrap_or(0),
            &[("Currency", currency)],
        );
        Ok(())
    }

    /// Sends one ledger entry under a fixed `eventId`, in the order's FIFO group, deduplicated
    /// by its payment operation.
    async fn send_to_ledger(
        &self,
        envelope: &EventEnvelope,
        order_id: &str,
        event: &ShopEvent,
        operation_id: &str,
        event_id: String,
    ) -> Result<(), SendError> {
        let mut entry =
            event.to_envelope(FUNCTION_NAME, &envelope.correlation_id, self.clock.now());
        entry.event_id = event_id;
        self.ledger
            .send(
                &entry.to_json(),
                Some(FifoKeys {
                    group_id: order_id,
                    deduplication_id: operation_id,
                }),
            )
            .await
    }

    /// Does the one follow-up a request asks for; the order's status is left as it is.
    async fn follow_up(
        &self,
        envelope: &EventEnvelope,
        request: &RepairRequested,
        follow_up: FollowUp,
    ) -> Result<(), ProcessError> {
        let order_id = &request.order_id;
        let name = follow_up.as_str();
        tracing::info!(
            order_id = %order_id,
            follow_up = name,
            outcome = %request.outcome,
            reason = %request.reason,
            cause = %request.cause,
            "follow-up requested"
        );
        if request.refund || request.outcome != OrderStatus::Confirmed.as_str() {
            // A compensation travels in a request of its own: this one only redoes a side
            // effect, whatever else it says.
            tracing::warn!(
                order_id = %order_id,
                follow_up = name,
                outcome = %request.outcome,
                refund = request.refund,
                "follow-up with another outcome or a refund: only the follow-up is done"
            );
        }
        let done = match follow_up {
            FollowUp::OrderPlaced => self.republish_placed(envelope, order_id).await,
            FollowUp::LedgerCharge => self.record_charge(envelope, order_id).await,
            FollowUp::ClearCart => self.clear_cart(request).await,
        };
        match done {
            Ok(true) => {
                tracing::info!(order_id = %order_id, follow_up = name, "follow-up done");
                lambda_kit::metrics::count(metric::FOLLOW_UPS_REPAIRED, 1, &[("FollowUp", name)]);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(err) => {
                tracing::warn!(
                    order_id = %order_id,
                    follow_up = name,
                    error = %err,
                    "follow-up failed: the record fails (retried, then the DLQ)"
                );
                Err(err.into())
            }
        }
    }

    async fn stored_order(&self, order_id: &OrderId) -> Result<Order, FollowUpError> {
        self.orders
            .get(order_id)
            .await?
            .ok_or_else(|| FollowUpError::UnknownOrder(order_id.clone()))
    }

    /// `ORDER_PLACED`: the stored order's `OrderPlaced` under its fixed id, if it was ever
    /// confirmed. `false` when skipped.
    async fn republish_placed(
        &self,
        envelope: &EventEnvelope,
        order_id: &OrderId,
    ) -> Result<bool, FollowUpError> {
        let order = self.stored_order(order_id).await?;
        if !was_confirmed(&order) {
            tracing::warn!(
                order_id = %order_id,
                status = order.status.as_str(),
                "order never confirmed: no OrderPlaced"
            );
            return Ok(false);
        }
        let placed = OrderPlaced::from_order(&order)
            .ok_or_else(|| FollowUpError::NoTotal(order_id.clone()))?;
        let mut event = ShopEvent::OrderPlaced(placed).to_envelope(
            FUNCTION_NAME,
            &envelope.correlation_id,
            self.clock.now(),
        );
        event.event_id = order_placed_event_id(order_id.as_str());
        self.publisher
            .publish(&event)
            .await
            .map_err(|e| FollowUpError::Send(e.to_string()))?;
        Ok(true)
    }

    /// `LEDGER_CHARGE`: the `PaymentCaptured` of `charge-<orderId>`, exactly as sent ahead of
    /// a refund. The amount is the order's total, which is what the checkout charged (the
    /// provider is not asked again: no call of the repair may charge). `false` when the order
    /// records no charge.
    async fn record_charge(
        &self,
        envelope: &EventEnvelope,
        order_id: &OrderId,
    ) -> Result<bool, FollowUpError> {
        let order = self.stored_order(order_id).await?;
        if order.charge_id.is_none() {
            tracing::warn!(
                order_id = %order_id,
                status = order.status.as_str(),
                "the order records no charge: no ledger entry"
            );
            return Ok(false);
        }
        let amount: Money = order
            .total
            .ok_or_else(|| FollowUpError::NoTotal(order_id.clone()))?;
        let operation_id = format!("charge-{order_id}");
        let captured = ShopEvent::PaymentCaptured(PaymentOperation {
            order_id: order_id.clone(),
            operation_id: operation_id.clone(),
            amount,
        });
        self.send_to_ledger(
            envelope,
            order_id.as_str(),
            &captured,
            &operation_id,
            captured_event_id(order_id.as_str()),
        )
        .await
        .map_err(|e| FollowUpError::Send(e.to_string()))?;
        Ok(true)
    }

    /// `CLEAR_CART`: deletes the checked-out cart if it is still at the priced version.
    /// `false` when it changed since or is gone (kept: the shopper's new cart).
    async fn clear_cart(&self, request: &RepairRequested) -> Result<bool, FollowUpError> {
        let (Some(key), Some(version)) = (&request.cart_key, request.cart_version) else {
            return Err(FollowUpError::MissingCart);
        };
        let id = cart_id_from_pk(key).ok_or_else(|| FollowUpError::BadCartKey(key.clone()))?;
        let deleted = self
            .carts
            .delete_cart_if_version(&id, version.get())
            .await?;
        if !deleted {
            tracing::info!(
                order_id = %request.order_id,
                cart_version = version.get(),
                "cart changed since the checkout, or gone: kept"
            );
        }
        Ok(deleted)
    }

    async fn publish_cancelled(
        &self,
        envelope: &EventEnvelope,
        order: &Order,
    ) -> Result<(), ProcessError> {
        let mut cancelled = ShopEvent::OrderCancelled(OrderCancelled {
            order_id: order.order_id.clone(),
            user_id: order.user_id.clone(),
            email: order.email.clone(),
            total: order.total,
        })
        .to_envelope(FUNCTION_NAME, &envelope.correlation_id, self.clock.now());
        // The same id for every attempt: a resend is the same event to the consumers.
        cancelled.event_id = lambda_kit::ids::uuid_from_name(
            format!("OrderCancelled\n{}", order.order_id).as_bytes(),
        );
        self.publisher
            .publish(&cancelled)
            .await
            .map_err(|e| ProcessError::Failed(e.to_string()))
    }
}

impl<O, P, S, L, E, C> EventHandler for Repair<O, P, S, L, E, C>
where
    O: OrderStore,
    P: PaymentProvider,
    S: StockRelease,
    L: QueueSender,
    E: EventPublisher,
    C: CartStore,
{
    type Event = ShopEvent;

    async fn handle(
        &self,
        envelope: &EventEnvelope,
        decoded: ShopEvent,
    ) -> Result<(), ProcessError> {
        match decoded {
            ShopEvent::RepairRequested(request) => self.repair(envelope, request).await,
            other => Err(ProcessError::Malformed(format!(
                "{} does not belong on the repair queue",
                other.event_type().as_str()
            ))),
        }
    }
}
