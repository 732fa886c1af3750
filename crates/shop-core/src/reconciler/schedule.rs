//! reconciler: the scheduled entry.

use std::collections::BTreeSet;

use lambda_kit::clock::Clock;
use lambda_kit::messaging::QueueSender;

use super::{Action, Deadlines, Report, decide};
use crate::events::{FollowUp, OrderPlaced, RepairRequested, ShopEvent};
use crate::orders::{Order, OrderId, OrderStatus, OrderStore, now_millis};
use crate::reservations::{Reservation, Reservations};
use crate::store::StoreError;

/// The sweep: reads the open orders and the reservations, sends repair requests and
/// fulfilment re-drives.
#[derive(Debug)]
pub struct Reconciler<O, R, Q> {
    orders: O,
    reservations: R,
    repair_queue: Q,
    fulfilment_queue: Q,
    deadlines: Deadlines,
    clock: Clock,
}

impl<O: OrderStore, R: Reservations, Q: QueueSender> Reconciler<O, R, Q> {
    /// A sweep over the orders and reservations tables, sending to the repair queue and (for
    /// confirmed orders never shipped) the fulfilment queue.
    pub fn new(
        orders: O,
        reservations: R,
        repair_queue: Q,
        fulfilment_queue: Q,
        deadlines: Deadlines,
    ) -> Self {
        Self {
            orders,
            reservations,
            repair_queue,
            fulfilment_queue,
            deadlines,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The repair queue (tests).
    pub fn repair_queue(&self) -> &Q {
        &self.repair_queue
    }

    /// The fulfilment queue (tests).
    pub fn fulfilment_queue(&self) -> &Q {
        &self.fulfilment_queue
    }

    /// One sweep. Each order is handed on at most once per `stuck_after` (`claim`, below).
    /// A request that cannot be sent is counted and sent again by the first sweep after
    /// that; a table that cannot be read fails the sweep (the schedule runs it again).
    pub async fn run(&self, correlation_id: &str) -> Result<Report, StoreError> {
        let now_ms = now_millis(&self.clock);
        let mut report = Report::default();
        let open = self.orders.scan_open().await?;
        report.open_orders = open.len();
        let mut requested = BTreeSet::new();
        for order in &open {
            let Some(action) = decide(order, now_ms, self.deadlines) else {
                continue;
            };
            *report
                .stuck
                .entry(order.status.as_str().to_owned())
                .or_default() += 1;
            if !self.claim(&mut report, &order.order_id, now_ms).await {
                continue;
            }
            match action {
                Action::Repair {
                    outcome,
                    reason,
                    refund,
                } => {
                    tracing::warn!(
                        order_id = %order.order_id,
                        status = order.status.as_str(),
                        updated_at = order.updated_at,
                        outcome = outcome.as_str(),
                        "stuck order: repair requested"
                    );
                    self.request(
                        &mut report,
                        order.order_id.clone(),
                        outcome,
                        reason,
                        refund,
                        correlation_id,
                    )
                    .await;
                    requested.insert(order.order_id.clone());
                }
                Action::RedriveFulfilment => {
                    self.redrive_fulfilment(&mut report, order, correlation_id)
                        .await;
                    // A checkout run cut off after its confirmation (an Express run's five
                    // minutes) never ran its follow-ups: both are idempotent (the order's one
                    // OrderPlaced id, the ledger's one entry per operation), so ask for them.
                    let follow_ups = if order.total.is_some() {
                        [FollowUp::OrderPlaced, FollowUp::LedgerCharge].as_slice()
                    } else {
                        &[]
                    };
                    for &follow_up in follow_ups {
                        self.request_follow_up(&mut report, order, follow_up, correlation_id)
                            .await;
                    }
                }
            }
        }
        for Reservation { sku, order_id, .. } in self.reservations.all().await? {
            if requested.contains(&order_id) {
                continue;
            }
            let Some(order) = self.orders.get(&order_id).await? else {
                tracing::error!(sku, order_id = %order_id, "reservation of an unknown order");
                continue;
            };
            if !order.status.is_terminal() {
                continue;
            }
            // A workflow or consumer that just ended the order may still be releasing or
            // consuming: give it the same allowance as a stuck order.
            let ended_seconds_ago = now_ms.saturating_sub(order.updated_at) / 1000;
            if ended_seconds_ago <= self.deadlines.stuck_after_seconds {
                continue;
            }
            report.stranded_reservations += 1;
            requested.insert(order_id.clone());
            if !self.claim(&mut report, &order_id, now_ms).await {
                continue;
            }
            if order.status == OrderStatus::Fulfilled {
                // Shipped, but fulfilment stopped before consuming its reservations (its
                // record went to the DLQ after marking the order): only fulfilment consumes
                // stock, and it finishes an order already marked fulfilled.
                tracing::warn!(sku, order_id = %order_id, "reservation left by a shipped order: fulfilment re-driven");
                self.redrive_fulfilment(&mut report, &order, correlation_id)
                    .await;
                continue;
            }
            tracing::warn!(sku, order_id = %order_id, status = order.status.as_str(), "stock held for an ended order: release requested");
            let reason = order
                .failure_reason
                .clone()
                .unwrap_or_else(|| "STRANDED_RESERVATION".to_owned());
            self.request(
                &mut report,
                order_id.clone(),
                order.status,
                reason,
                false,
                correlation_id,
            )
            .await;
        }
        tracing::info!(
            open_orders = report.open_orders,
            stuck = ?report.stuck,
            stranded_reservations = report.stranded_reservations,
            repairs_requested = report.repairs_requested,
            fulfilments_redriven = report.fulfilments_redriven,
            follow_ups_requested = report.follow_ups_requested,
            already_requested = report.already_requested,
            send_failures = report.send_failures,
            not_actionable = report.not_actionable,
            "reconciled"
        );
        report.emit_metrics();
        Ok(report)
    }

    /// Sends a confirmed (or shipped but unfinished) order's `OrderPlaced` to the fulfilment
    /// queue again (never to the
    /// topic: the other consumers have seen it). A new event id, so fulfilment's idempotency
    /// does not take it for a delivery already done; fulfilment itself is idempotent on the
    /// order's status. The queue's delay (the cancel window) applies again: harmless, the
    /// order is late already.
    async fn redrive_fulfilment(&self, report: &mut Report, order: &Order, correlation_id: &str) {
        let Some(placed) = OrderPlaced::from_order(order) else {
            tracing::error!(order_id = %order.order_id, "confirmed order without a total: not re-driven");
            report.not_actionable += 1;
            return;
        };
        tracing::warn!(
            order_id = %order.order_id,
            updated_at = order.updated_at,
            "confirmed order never shipped: OrderPlaced sent to fulfilment again"
        );
        let envelope = ShopEvent::OrderPlaced(placed).to_envelope(
            super::FUNCTION_NAME,
            correlation_id,
            self.clock.now(),
        );
        match self.fulfilment_queue.send(&envelope.to_json(), None).await {
            Ok(()) => report.fulfilments_redriven += 1,
            Err(err) => {
                tracing::error!(error = %err, "re-drive not sent: the next sweep tries again");
                report.send_failures += 1;
            }
        }
    }

    /// Marks the order as handed on now, unless an earlier sweep did so less than
    /// `stuck_after` ago: that request is still queued or being retried by SQS, and sending
    /// another every sweep would only grow the backlog it is waiting in. `false` when the
    /// order was claimed already (counted) or the claim could not be written (counted as a
    /// send failure: the next sweep tries again).
    async fn claim(&self, report: &mut Report, order_id: &OrderId, now_ms: i64) -> bool {
        let not_since_ms =
            now_ms.saturating_sub(self.deadlines.stuck_after_seconds.saturating_mul(1000));
        match self
            .orders
            .claim_reconcile(order_id, now_ms, not_since_ms)
            .await
        {
            Ok(true) => true,
            Ok(false) => {
                tracing::info!(order_id = %order_id, "handed on by an earlier sweep: nothing sent again yet");
                report.already_requested += 1;
                false
            }
            Err(err) => {
                tracing::error!(order_id = %order_id, error = %err, "could not mark the order: the next sweep tries again");
                report.send_failures += 1;
                false
            }
        }
    }

    async fn request_follow_up(
        &self,
        report: &mut Report,
        order: &Order,
        follow_up: FollowUp,
        correlation_id: &str,
    ) {
        let envelope = ShopEvent::RepairRequested(RepairRequested {
            order_id: order.order_id.clone(),
            outcome: OrderStatus::Confirmed.as_str().to_owned(),
            reason: follow_up.as_str().to_owned(),
            refund: false,
            cause: "found by the reconciler".to_owned(),
            follow_up: Some(follow_up),
            cart_key: None,
            cart_version: None,
        })
        .to_envelope(super::FUNCTION_NAME, correlation_id, self.clock.now());
        match self.repair_queue.send(&envelope.to_json(), None).await {
            Ok(()) => report.follow_ups_requested += 1,
            Err(err) => {
                tracing::error!(error = %err, "follow-up request not sent: the next sweep tries again");
                report.send_failures += 1;
            }
        }
    }

    async fn request(
        &self,
        report: &mut Report,
        order_id: OrderId,
        outcome: OrderStatus,
        reason: String,
        refund: bool,
        correlation_id: &str,
    ) {
        let envelope = ShopEvent::RepairRequested(RepairRequested {
            order_id,
            outcome: outcome.as_str().to_owned(),
            reason,
            refund,
            cause: "found by the reconciler".to_owned(),
            follow_up: None,
            cart_key: None,
            cart_version: None,
        })
        .to_envelope(super::FUNCTION_NAME, correlation_id, self.clock.now());
        match self.repair_queue.send(&envelope.to_json(), None).await {
            Ok(()) => report.repairs_requested += 1,
            Err(err) => {
                tracing::error!(error = %err, "repair request not sent: the next sweep tries again");
                report.send_failures += 1;
            }
        }
    }
}
