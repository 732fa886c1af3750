//! The state machines' definitions, read as JSON: the properties LocalStack cannot be made
//! to show (an SNS publish or an SQS send that fails after its retries) are checked on the
//! definitions; the integration tests run the rest.

use serde_json::Value;

/// A definition with every `${Placeholder}` replaced: quoted ones by their name (so a test
/// can see which placeholder a field holds), bare ones (numbers) by 1.
fn definition(file: &str) -> Value {
    let path = format!("{}/../../statemachines/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        let quoted = out.ends_with('"');
        out.push_str(if quoted { name } else { "1" });
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{file} after substitution: {e}"))
}

fn states(machine: &Value) -> &serde_json::Map<String, Value> {
    machine["States"].as_object().expect("States")
}

/// Every task state, with its name, in a machine and its nested Map/Parallel states.
fn tasks(machine: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, state) in states(machine) {
        match state["Type"].as_str() {
            Some("Task") => found.push((name.clone(), state.clone())),
            Some("Parallel") => {
                for branch in state["Branches"].as_array().expect("Branches") {
                    found.extend(tasks(branch));
                }
            }
            Some("Map") => found.extend(tasks(&state["ItemProcessor"])),
            _ => {}
        }
    }
    found
}

#[test]
fn nothing_in_the_express_machines_waits_for_a_person() {
    for file in ["checkout.asl.json", "cancel-order.asl.json"] {
        for (name, task) in tasks(&definition(file)) {
            let resource = task["Resource"].as_str().unwrap_or_default();
            assert!(
                !resource.contains(".waitForTaskToken") && !resource.contains(".sync"),
                "{file}: {name} uses {resource}: not allowed in an EXPRESS machine"
            );
        }
    }
    // The one task that waits for a person is in the STANDARD machine.
    let approval = definition("approval.asl.json");
    let waits: Vec<_> = tasks(&approval)
        .into_iter()
        .filter(|(_, t)| {
            t["Resource"]
                .as_str()
                .is_some_and(|r| r.ends_with(".waitForTaskToken"))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(waits, ["RequestApproval"]);
}

#[test]
fn the_hand_over_and_the_resumption_are_named_after_the_order() {
    let checkout = definition("checkout.asl.json");
    let hand_over = &states(&checkout)["HandOverToApproval"];
    assert_eq!(
        hand_over["Parameters"]["Name.$"],
        "States.Format('approval-{}', $.orderId)"
    );
    assert_eq!(
        hand_over["Parameters"]["StateMachineArn"],
        "ApprovalStateMachineArn"
    );
    // A second start under the same name is the hand-over done before, not a failure.
    assert_eq!(
        hand_over["Catch"][0]["ErrorEquals"][0],
        "StepFunctions.ExecutionAlreadyExistsException"
    );
    assert_eq!(hand_over["Catch"][0]["Next"], "HandedOver");

    let approval = definition("approval.asl.json");
    let resume = &states(&approval)["Resume"];
    assert_eq!(
        resume["Parameters"]["Name.$"],
        "States.Format('resume-{}', $.orderId)"
    );
    assert_eq!(
        resume["Parameters"]["StateMachineArn"],
        "CheckoutStateMachineArn"
    );
    assert_eq!(
        resume["Catch"][0]["ErrorEquals"][0],
        "StepFunctions.ExecutionAlreadyExistsException"
    );
    // Every decision resumes the checkout, which compensates for all but APPROVED.
    let decisions: Vec<_> = states(&checkout)["Decision"]["Choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["StringEquals"].as_str().unwrap().to_owned())
        .collect();
    for decided in ["Approved", "Rejected", "TimedOut", "Unanswerable"] {
        let result = states(&approval)[decided]["Result"].as_str().unwrap();
        assert!(
            decisions.iter().any(|d| d == result) || result == "ERROR",
            "{decided} → {result} is handled by the checkout's Decision"
        );
        assert_eq!(states(&approval)[decided]["Next"], "Resume");
    }
}

#[test]
fn every_follow_up_branch_ends_in_the_repair_queue_when_it_fails() {
    let checkout = definition("checkout.asl.json");
    let parallel = &states(&checkout)["AfterConfirmation"];
    assert_eq!(parallel["Type"], "Parallel");
    // Nothing after the confirmation can un-confirm the order: even a failed Parallel goes on
    // to Placed.
    assert_eq!(parallel["Next"], "Placed");
    assert_eq!(parallel["Catch"][0]["Next"], "Placed");
    let expected = [
        ("PublishOrderPlaced", "ORDER_PLACED"),
        ("RecordCharge", "LEDGER_CHARGE"),
        ("ClearCart", "CLEAR_CART"),
    ];
    let branches = parallel["Branches"].as_array().unwrap();
    assert_eq!(branches.len(), expected.len());
    for (task_name, follow_up) in expected {
        let branch = branches
            .iter()
            .find(|b| states(b).contains_key(task_name))
            .unwrap_or_else(|| panic!("a branch runs {task_name}"));
        let task = &states(branch)[task_name];
        assert!(
            task["Retry"].as_array().is_some_and(|r| !r.is_empty()),
            "{task_name} retries"
        );
        let catch_all = task["Catch"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["ErrorEquals"][0] == "States.ALL")
            .unwrap_or_else(|| panic!("{task_name} catches every error"));
        let repair = &states(branch)[catch_all["Next"].as_str().unwrap()];
        assert_eq!(repair["Resource"], "arn:aws:states:::sqs:sendMessage");
        assert_eq!(repair["Parameters"]["QueueUrl"], "RepairQueueUrl");
        let body = &repair["Parameters"]["MessageBody"];
        assert_eq!(body["eventType"], "RepairRequested");
        assert_eq!(body["detail"]["followUp"], follow_up, "{task_name}");
        assert_eq!(body["detail"]["outcome"], "CONFIRMED");
        assert_eq!(repair["End"], true);
    }
}

#[test]
fn a_pending_charge_is_waited_for_then_voided_at_the_deadline() {
    let checkout = definition("checkout.asl.json");
    let all = states(&checkout);
    assert_eq!(all["ChargePayment"]["Next"], "Settled");
    assert_eq!(all["Settled"]["Choices"][0]["StringEquals"], "PENDING");
    assert_eq!(all["Settled"]["Default"], "ConfirmOrder");
    assert_eq!(
        all["PastSettlementDeadline"]["Choices"][0]["Next"],
        "FailPaymentNotSettled"
    );
    assert_eq!(all["WaitForSettlement"]["Type"], "Wait");
    assert_eq!(
        all["WaitForSettlement"]["SecondsPath"],
        "$.charge.answer.retryAfterSeconds"
    );
    assert_eq!(all["CountWait"]["Next"], "ChargePayment");
    // Giving up refunds, which voids a charge still pending.
    assert_eq!(all["FailPaymentNotSettled"]["Next"], "RefundPayment");
    assert_eq!(
        all["FailPaymentNotSettled"]["Result"]["reason"],
        "PAYMENT_NOT_SETTLED"
    );
}
