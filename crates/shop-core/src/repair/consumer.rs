//! repair: the queue handler.

use lambda_kit::messaging::{
    EventEnvelope, EventHandler, EventPublisher, FifoKeys, ProcessError, QueueSender,
};

use super::FUNCTION_NAME;
use crate::events::{OrderCancelled, PaymentOperation, RepairRequested, ShopEvent};
use crate::orders::{Order, OrderStatus, OrderStore};
use crate::payment::{PaymentProvider, RefundRequest};
use crate::reservations::StockRelease;

/// The `eventId` of the `PaymentRefunded` a repair sends to the ledger: the same for every
/// attempt, so a resend is the same event.
pub fn refunded_event_id(order_id: &str) -> String {
    lambda_kit::ids::uuid_from_name(format!("PaymentRefunded\nrefund-{order_id}").as_bytes())
}

/// The `eventId` of the `PaymentCaptured` a repair sends ahead of its refund (module doc).
pub fn captured_event_id(order_id: &str) -> String {
    lambda_kit::ids::uuid_from_name(format!("PaymentCaptured\ncharge-{order_id}").as_bytes())
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
}

/// The repair consumer: refund what is owed, write it to the ledger, release what is held,
/// end the order.
#[derive(Debug)]
pub struct Repair<O, P, S, L, E> {
    orders: O,
    provider: P,
    stock: S,
    ledger: L,
    publisher: E,
    clock: lambda_kit::clock::Clock,
}

impl<O, P, S, L, E> Repair<O, P, S, L, E>
where
    O: OrderStore,
    P: PaymentProvider,
    S: StockRelease,
    L: QueueSender,
    E: EventPublisher,
{
    /// A repair over the orders table, the payment provider, the stock, the payments-ledger
    /// FIFO queue and the events topic (for `OrderCancelled`).
    pub fn new(orders: O, provider: P, stock: S, ledger: L, publisher: E) -> Self {
        Self {
            orders,
            provider,
            stock,
            ledger,
            publisher,
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

    async fn repair(
        &self,
        envelope: &EventEnvelope,
        request: RepairRequested,
    ) -> Result<(), ProcessError> {
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

impl<O, P, S, L, E> EventHandler for Repair<O, P, S, L, E>
where
    O: OrderStore,
    P: PaymentProvider,
    S: StockRelease,
    L: QueueSender,
    E: EventPublisher,
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
