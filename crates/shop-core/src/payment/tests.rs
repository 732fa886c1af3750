use super::*;

type Step = PaymentStep<SimulatedProvider<InMemoryPaymentStore>>;

fn step() -> Step {
    PaymentStep::new(SimulatedProvider::new(InMemoryPaymentStore::default()))
}

fn charge(token: &str) -> serde_json::Value {
    serde_json::json!({
        "operation": "charge",
        "orderId": "ord_1",
        "operationId": "charge-ord_1",
        "paymentToken": token,
        "idempotencyKey": "key-1",
        "amount": {"amount": 2598, "currency": "EUR"}
    })
}

fn refund() -> serde_json::Value {
    serde_json::json!({
        "operation": "refund",
        "orderId": "ord_1",
        "operationId": "refund-ord_1",
        "chargeOperationId": "charge-ord_1"
    })
}

fn error_type(result: &Result<PaymentResponse, PaymentError>) -> &'static str {
    result.as_ref().err().map_or("ok", StepError::error_type)
}

fn json(result: Result<PaymentResponse, PaymentError>) -> serde_json::Value {
    result
        .ok()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn ok_charges_once_and_a_retry_returns_the_first_charge() {
    let step = step();
    let first = json(step.handle(charge("tok_ok")).await);
    assert_eq!(first["operationId"], "charge-ord_1");
    assert_eq!(
        first["amount"],
        serde_json::json!({"amount": 2598, "currency": "EUR"})
    );
    let charge_id = first["chargeId"].as_str().unwrap_or_default().to_owned();
    assert!(charge_id.starts_with("ch_"), "{charge_id}");
    let again = json(step.handle(charge("tok_ok")).await);
    assert_eq!(again, first);
    assert_eq!(step.provider().store().recorded(), 1);
}

#[tokio::test]
async fn flaky_fails_the_first_n_attempts_of_the_operation() {
    let step = step();
    for attempt in 1..=3 {
        let result = step.handle(charge("tok_flaky_3")).await;
        assert_eq!(
            error_type(&result),
            "PaymentProviderUnavailable",
            "attempt {attempt}"
        );
    }
    let fourth = json(step.handle(charge("tok_flaky_3")).await);
    assert!(fourth["chargeId"].is_string());
    // Once captured, a retry returns the charge without counting another attempt.
    assert_eq!(json(step.handle(charge("tok_flaky_3")).await), fourth);
    assert_eq!(step.provider().store().attempts("charge-ord_1"), 4);
    // Attempts count per operation id: another order starts from zero.
    let mut other = charge("tok_flaky_1");
    other["orderId"] = "ord_2".into();
    other["operationId"] = "charge-ord_2".into();
    assert_eq!(
        error_type(&step.handle(other.clone()).await),
        "PaymentProviderUnavailable"
    );
    assert_eq!(error_type(&step.handle(other).await), "ok");
}

#[tokio::test]
async fn declined_and_down_never_charge() {
    let step = step();
    for _ in 0..3 {
        assert_eq!(
            error_type(&step.handle(charge("tok_declined")).await),
            "PaymentDeclined"
        );
        assert_eq!(
            error_type(&step.handle(charge("tok_down")).await),
            "PaymentProviderUnavailable"
        );
    }
    assert_eq!(step.provider().store().recorded(), 0);
    assert_eq!(
        json(step.handle(refund()).await),
        serde_json::json!({"refunded": false})
    );
}

#[tokio::test]
async fn refund_without_a_charge_refunds_nothing() {
    let step = step();
    assert_eq!(
        json(step.handle(refund()).await),
        serde_json::json!({"refunded": false})
    );
    assert_eq!(step.provider().store().recorded(), 0);
}

#[tokio::test]
async fn refund_of_a_charge_is_recorded_once() {
    let step = step();
    let charged = json(step.handle(charge("tok_ok")).await);
    let first = json(step.handle(refund()).await);
    assert_eq!(first["refunded"], true);
    assert_eq!(first["amount"], charged["amount"]);
    assert!(
        first["refundId"]
            .as_str()
            .is_some_and(|id| id.starts_with("re_"))
    );
    assert_eq!(json(step.handle(refund()).await), first);
    assert_eq!(step.provider().store().recorded(), 2);
}

#[tokio::test]
async fn malformed_requests_are_invalid() {
    let step = step();
    let mut zero = charge("tok_ok");
    zero["amount"]["amount"] = 0.into();
    let mut no_order = charge("tok_ok");
    no_order["orderId"] = "".into();
    let mut no_charge_op = refund();
    no_charge_op["chargeOperationId"] = " ".into();
    let mut bad_currency = charge("tok_ok");
    bad_currency["amount"]["currency"] = "eur".into();
    for input in [
        charge("tok_unknown"),
        zero,
        no_order,
        no_charge_op,
        bad_currency,
        serde_json::json!({"operation": "capture", "orderId": "ord_1"}),
        serde_json::json!({"orderId": "ord_1"}),
        serde_json::json!("charge"),
    ] {
        assert_eq!(
            error_type(&step.handle(input.clone()).await),
            "InvalidPaymentRequest",
            "{input}"
        );
    }
    assert_eq!(step.provider().store().recorded(), 0);
}

#[tokio::test]
async fn charges_record_their_token() {
    let step = step();
    json(step.handle(charge("tok_flaky_1")).await);
    json(step.handle(charge("tok_flaky_1")).await);
    let captured = step
        .provider()
        .store()
        .get_captured("charge-ord_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(captured.payment_token.as_deref(), Some("tok_flaky_1"));
    // Existing tokens refund as before.
    assert_eq!(json(step.handle(refund()).await)["refunded"], true);
}

#[tokio::test]
async fn refund_flaky_charges_then_fails_the_first_n_refund_attempts() {
    let step = step();
    let charged = json(step.handle(charge("tok_refund_flaky_2")).await);
    assert!(charged["chargeId"].is_string(), "{charged}");
    assert_eq!(step.provider().store().attempts("charge-ord_1"), 0);
    for attempt in 1..=2 {
        assert_eq!(
            error_type(&step.handle(refund()).await),
            "PaymentProviderUnavailable",
            "attempt {attempt}"
        );
    }
    let refunded = json(step.handle(refund()).await);
    assert_eq!(refunded["refunded"], true);
    assert_eq!(refunded["amount"], charged["amount"]);
    // A retry returns the first refund.
    assert_eq!(json(step.handle(refund()).await), refunded);
    assert_eq!(step.provider().store().attempts("refund-ord_1"), 4);
    assert_eq!(step.provider().store().recorded(), 2);
}

#[tokio::test]
async fn refund_down_charges_and_never_refunds() {
    let step = step();
    assert!(json(step.handle(charge("tok_refund_down")).await)["chargeId"].is_string());
    for _ in 0..5 {
        assert_eq!(
            error_type(&step.handle(refund()).await),
            "PaymentProviderUnavailable"
        );
    }
    assert_eq!(step.provider().store().recorded(), 1, "the charge only");
}

#[tokio::test]
async fn refunds_of_charges_without_a_known_token_succeed() {
    let step = step();
    let record = ChargeRecord {
        charge_id: "ch_old".to_owned(),
        order_id: "ord_1".to_owned(),
        amount: Money::new(2598, crate::catalog::Currency::EUR),
        idempotency_key: "key-1".to_owned(),
    };
    // Recorded before tokens were kept.
    let store = step.provider().store();
    store
        .record_charge("charge-ord_1", &record, 1)
        .await
        .unwrap();
    assert_eq!(
        store.get_captured("charge-ord_1").await.unwrap(),
        Some(CapturedCharge {
            charge: record.clone(),
            payment_token: None
        })
    );
    assert_eq!(json(step.handle(refund()).await)["refunded"], true);
    // A token the provider no longer knows does not block compensation either.
    let mut other = refund();
    other["orderId"] = "ord_2".into();
    other["operationId"] = "refund-ord_2".into();
    other["chargeOperationId"] = "charge-ord_2".into();
    store
        .record_charge_with_token("charge-ord_2", &record, Some("tok_gold"), 1)
        .await
        .unwrap();
    assert_eq!(json(step.handle(other).await)["refunded"], true);
}

#[tokio::test]
async fn an_outage_fails_every_charge_and_refund_until_it_ends() {
    let clock = Clock::manual(1_795_400_000);
    let step = PaymentStep::new(
        SimulatedProvider::new(InMemoryPaymentStore::default()).with_clock(clock.clone()),
    );
    let store = step.provider().store();
    assert_eq!(store.outage_until().await.unwrap(), None);
    store.set_outage(clock.now() + 60).await.unwrap();
    assert_eq!(store.outage_until().await.unwrap(), Some(1_795_400_060));
    for token in ["tok_ok", "tok_flaky_1", "tok_declined"] {
        assert_eq!(
            error_type(&step.handle(charge(token)).await),
            "PaymentProviderUnavailable",
            "{token}"
        );
    }
    assert_eq!(
        error_type(&step.handle(refund()).await),
        "PaymentProviderUnavailable"
    );
    assert_eq!(
        store.attempts("charge-ord_1"),
        0,
        "the provider was not reached"
    );
    assert_eq!(store.recorded(), 0);

    // The outage ends on its own; then one starts after the charge.
    clock.advance(60);
    let charged = json(step.handle(charge("tok_ok")).await);
    assert!(charged["chargeId"].is_string());
    store.set_outage(clock.now() + 30).await.unwrap();
    assert_eq!(
        error_type(&step.handle(refund()).await),
        "PaymentProviderUnavailable"
    );
    assert_eq!(
        error_type(&step.handle(charge("tok_ok")).await),
        "PaymentProviderUnavailable",
        "even a retry of a recorded charge"
    );
    // Ended early by setting a time in the past.
    store.set_outage(0).await.unwrap();
    assert_eq!(json(step.handle(charge("tok_ok")).await), charged);
    assert_eq!(json(step.handle(refund()).await)["refunded"], true);
}

const ENV: &[(&str, &str)] = &[
    ("PAYMENTS_TABLE", "payments"),
    ("PENDING_RETRY_AFTER_SECONDS", "30"),
];

#[test]
fn settings_read_every_variable() {
    use crate::test_support::{settings_from, without_var};
    assert_eq!(
        settings_from(ENV),
        Ok(PaymentSettings {
            payments_table: "payments".to_owned(),
            pending_retry_after_seconds: 30,
        })
    );
    assert_eq!(
        settings_from::<PaymentSettings>(&without_var(ENV, "PENDING_RETRY_AFTER_SECONDS"))
            .map(|s| s.pending_retry_after_seconds),
        Ok(1),
        "default"
    );
    assert_eq!(
        settings_from::<PaymentSettings>(&crate::test_support::with_var(
            ENV,
            "PENDING_RETRY_AFTER_SECONDS",
            "60"
        ))
        .map(|s| s.pending_retry_after_seconds),
        Ok(60)
    );
}

#[test]
fn settings_reject_a_retry_after_outside_a_minute() {
    for bad in ["0", "61", "-1", "x", "1.5", "4294967297"] {
        crate::test_support::assert_invalid::<PaymentSettings>(
            ENV,
            "PENDING_RETRY_AFTER_SECONDS",
            bad,
        );
    }
}

#[test]
fn settings_name_the_missing_variable() {
    crate::test_support::assert_each_required::<PaymentSettings>(ENV, &["PAYMENTS_TABLE"]);
}

fn status_of(step: &Step) -> Option<ChargeStatus> {
    step.provider().store().status("charge-ord_1")
}

#[tokio::test]
async fn captured_answers_carry_their_status_and_nothing_else() {
    let step = step();
    let answer = json(step.handle(charge("tok_ok")).await);
    let charge_id = answer["chargeId"].clone();
    assert!(charge_id.is_string());
    assert_eq!(
        answer,
        serde_json::json!({
            "chargeId": charge_id,
            "operationId": "charge-ord_1",
            "amount": {"amount": 2598, "currency": "EUR"},
            "status": "CAPTURED"
        })
    );
    assert_eq!(status_of(&step), Some(ChargeStatus::Captured));
}

#[tokio::test]
async fn pending_n_answers_pending_n_times_then_captured() {
    for n in 1..=9u32 {
        let step = PaymentStep::new(
            SimulatedProvider::new(InMemoryPaymentStore::default()).with_retry_after(7),
        );
        let token = format!("tok_pending_{n}");
        let first = json(step.handle(charge(&token)).await);
        let charge_id = first["chargeId"].clone();
        assert!(
            charge_id.as_str().is_some_and(|id| id.starts_with("ch_")),
            "{first}"
        );
        assert_eq!(
            first,
            serde_json::json!({
                "chargeId": charge_id,
                "operationId": "charge-ord_1",
                "amount": {"amount": 2598, "currency": "EUR"},
                "status": "PENDING",
                "retryAfterSeconds": 7
            })
        );
        assert_eq!(status_of(&step), Some(ChargeStatus::Pending));
        // Not captured yet: nothing a refund or the repair could take back.
        let store = step.provider().store();
        assert_eq!(store.get_captured("charge-ord_1").await.unwrap(), None);
        assert_eq!(store.get_charge("charge-ord_1").await.unwrap(), None);
        for poll in 1..n {
            assert_eq!(
                json(step.handle(charge(&token)).await),
                first,
                "{token}: poll {poll}"
            );
        }
        let captured = json(step.handle(charge(&token)).await);
        assert_eq!(
            captured,
            serde_json::json!({
                "chargeId": charge_id,
                "operationId": "charge-ord_1",
                "amount": {"amount": 2598, "currency": "EUR"},
                "status": "CAPTURED"
            }),
            "{token}: poll {n}"
        );
        // Later polls return the capture without counting another call.
        assert_eq!(json(step.handle(charge(&token)).await), captured);
        assert_eq!(store.attempts("charge-ord_1"), n + 1);
        assert_eq!(store.settlements("charge-ord_1"), 1);
        assert_eq!(store.recorded(), 1);
        let recorded = store.get_captured("charge-ord_1").await.unwrap().unwrap();
        assert_eq!(recorded.payment_token.as_deref(), Some(token.as_str()));
    }
}

#[tokio::test]
async fn pending_forever_never_settles() {
    let step = step();
    let first = json(step.handle(charge("tok_pending_forever")).await);
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["retryAfterSeconds"], 1, "the default");
    for _ in 0..20 {
        assert_eq!(
            json(step.handle(charge("tok_pending_forever")).await),
            first
        );
    }
    assert_eq!(status_of(&step), Some(ChargeStatus::Pending));
    assert_eq!(step.provider().store().settlements("charge-ord_1"), 0);
}

/// A store where someone else settles a pending charge between this call's read and its
/// conditional write: a concurrent poll (`Capture`) or a refund (`Void`).
#[derive(Debug)]
struct RacingStore {
    inner: InMemoryPaymentStore,
    rival: Settlement,
}

impl PaymentStore for RacingStore {
    async fn get_recorded(&self, operation_id: &str) -> Result<Option<RecordedCharge>, StoreError> {
        self.inner.get_recorded(operation_id).await
    }

    async fn count_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.inner.count_attempt(operation_id, now).await
    }

    async fn count_refund_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.inner.count_refund_attempt(operation_id, now).await
    }

    async fn record_charge_as(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        status: ChargeStatus,
        now: i64,
    ) -> Result<RecordedCharge, StoreError> {
        self.inner
            .record_charge_as(operation_id, charge, payment_token, status, now)
            .await
    }

    async fn settle_pending(
        &self,
        operation_id: &str,
        settlement: Settlement,
        now: i64,
    ) -> Result<Option<RecordedCharge>, StoreError> {
        self.inner
            .settle_pending(operation_id, self.rival, now)
            .await?;
        self.inner
            .settle_pending(operation_id, settlement, now)
            .await
    }

    async fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        now: i64,
    ) -> Result<RefundRecord, StoreError> {
        self.inner.record_refund(operation_id, refund, now).await
    }

    async fn outage_until(&self) -> Result<Option<i64>, StoreError> {
        self.inner.outage_until().await
    }

    async fn set_outage(&self, until: i64) -> Result<(), StoreError> {
        self.inner.set_outage(until).await
    }
}

fn racing(rival: Settlement) -> PaymentStep<SimulatedProvider<RacingStore>> {
    PaymentStep::new(SimulatedProvider::new(RacingStore {
        inner: InMemoryPaymentStore::default(),
        rival,
    }))
}

#[tokio::test]
async fn a_pending_charge_is_captured_at_most_once() {
    // In the store: only PENDING settles, and only once.
    let store = InMemoryPaymentStore::default();
    let record = ChargeRecord {
        charge_id: "ch_first".to_owned(),
        order_id: "ord_1".to_owned(),
        amount: Money::new(2598, crate::catalog::Currency::EUR),
        idempotency_key: "key-1".to_owned(),
    };
    assert_eq!(
        store
            .settle_pending("charge-ord_1", Settlement::Capture, 1)
            .await
            .unwrap(),
        None,
        "nothing recorded"
    );
    let pending = store
        .record_charge_as(
            "charge-ord_1",
            &record,
            Some("tok_pending_1"),
            ChargeStatus::Pending,
            1,
        )
        .await
        .unwrap();
    assert_eq!(pending.status, ChargeStatus::Pending);
    let second = ChargeRecord {
        charge_id: "ch_second".to_owned(),
        ..record.clone()
    };
    assert_eq!(
        store
            .record_charge_with_token("charge-ord_1", &second, Some("tok_ok"), 2)
            .await
            .unwrap(),
        record,
        "the first charge wins, pending or not"
    );
    let captured = RecordedCharge {
        status: ChargeStatus::Captured,
        ..pending.clone()
    };
    for settlement in [Settlement::Capture, Settlement::Capture, Settlement::Void] {
        assert_eq!(
            store
                .settle_pending("charge-ord_1", settlement, 3)
                .await
                .unwrap(),
            Some(captured.clone()),
            "{settlement:?}"
        );
    }
    assert_eq!(store.settlements("charge-ord_1"), 1);

    // Through the provider: a poll that loses to a concurrent poll returns that capture.
    let step = racing(Settlement::Capture);
    let first = json(step.handle(charge("tok_pending_1")).await);
    assert_eq!(first["status"], "PENDING");
    let polled = json(step.handle(charge("tok_pending_1")).await);
    assert_eq!(polled["status"], "CAPTURED");
    assert_eq!(polled["chargeId"], first["chargeId"]);
    let inner = &step.provider().store().inner;
    assert_eq!(inner.settlements("charge-ord_1"), 1);
    assert_eq!(json(step.handle(charge("tok_pending_1")).await), polled);
}

#[tokio::test]
async fn a_refund_voids_a_pending_charge_and_a_later_poll_never_captures_it() {
    let step = step();
    let pending = json(step.handle(charge("tok_pending_2")).await);
    assert_eq!(pending["status"], "PENDING");
    assert_eq!(
        json(step.handle(refund()).await),
        serde_json::json!({"refunded": false})
    );
    assert_eq!(status_of(&step), Some(ChargeStatus::Voided));
    // Polls after the compensation, past the one that would have captured it: declined.
    for poll in 1..=4 {
        let result = step.handle(charge("tok_pending_2")).await;
        assert_eq!(error_type(&result), "PaymentDeclined", "poll {poll}");
        assert!(
            result
                .err()
                .is_some_and(|e| e.to_string().contains("the pending charge was voided"))
        );
    }
    // A retried refund of the voided charge: nothing refunded again.
    assert_eq!(
        json(step.handle(refund()).await),
        serde_json::json!({"refunded": false})
    );
    let store = step.provider().store();
    assert_eq!(status_of(&step), Some(ChargeStatus::Voided));
    assert_eq!(store.settlements("charge-ord_1"), 1);
    assert_eq!(store.get_captured("charge-ord_1").await.unwrap(), None);
    assert_eq!(store.get_charge("charge-ord_1").await.unwrap(), None);
    assert_eq!(store.recorded(), 1, "the voided charge, no refund");

    // The same when the refund's void wins against a concurrent poll's capture.
    let step = racing(Settlement::Void);
    json(step.handle(charge("tok_pending_1")).await);
    assert_eq!(
        error_type(&step.handle(charge("tok_pending_1")).await),
        "PaymentDeclined"
    );
    assert_eq!(
        json(step.handle(refund()).await),
        serde_json::json!({"refunded": false})
    );
}

#[tokio::test]
async fn a_refund_of_a_settled_pending_charge_refunds_it() {
    let step = step();
    json(step.handle(charge("tok_pending_1")).await);
    let captured = json(step.handle(charge("tok_pending_1")).await);
    assert_eq!(captured["status"], "CAPTURED");
    let refunded = json(step.handle(refund()).await);
    assert_eq!(refunded["refunded"], true);
    assert_eq!(refunded["amount"], captured["amount"]);
    assert_eq!(json(step.handle(refund()).await), refunded);
    assert_eq!(status_of(&step), Some(ChargeStatus::Captured));

    // A refund whose void loses to a concurrent capture refunds the capture.
    let step = racing(Settlement::Capture);
    let pending = json(step.handle(charge("tok_pending_forever")).await);
    assert_eq!(pending["status"], "PENDING");
    let refunded = json(step.handle(refund()).await);
    assert_eq!(refunded["refunded"], true, "{refunded}");
    assert_eq!(refunded["amount"], pending["amount"]);
    let inner = &step.provider().store().inner;
    assert_eq!(inner.settlements("charge-ord_1"), 1);
    assert_eq!(inner.recorded(), 2, "the charge and its refund");
}

#[tokio::test]
async fn an_outage_fails_polls_too() {
    let clock = Clock::manual(1_795_400_000);
    let step = PaymentStep::new(
        SimulatedProvider::new(InMemoryPaymentStore::default()).with_clock(clock.clone()),
    );
    let store = step.provider().store();
    assert_eq!(
        json(step.handle(charge("tok_pending_1")).await)["status"],
        "PENDING"
    );
    store.set_outage(clock.now() + 60).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            error_type(&step.handle(charge("tok_pending_1")).await),
            "PaymentProviderUnavailable"
        );
    }
    assert_eq!(store.attempts("charge-ord_1"), 1, "polls not counted");
    assert_eq!(store.status("charge-ord_1"), Some(ChargeStatus::Pending));
    assert_eq!(
        error_type(&step.handle(refund()).await),
        "PaymentProviderUnavailable",
        "nor voided"
    );
    assert_eq!(store.status("charge-ord_1"), Some(ChargeStatus::Pending));
    clock.advance(60);
    assert_eq!(
        json(step.handle(charge("tok_pending_1")).await)["status"],
        "CAPTURED"
    );
}
