//! Alarms that reach someone, as deployed: every alarm of the template exists on the stack and
//! notifies the alarm topic both when it fires and when it clears. (`make lint` checks the same
//! on the template with cfn-guard; this reads what CloudFormation actually created.)
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use shop_tests::Stack;

#[tokio::test]
async fn every_deployed_alarm_notifies_the_alarm_topic() {
    let stack = Stack::load().await;
    let config = lambda_kit::aws::sdk_config().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let alarms: Vec<_> = cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{}-", stack.output("StackName")))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("describe the stack's alarms")
        .into_iter()
        .flat_map(|page| page.metric_alarms.unwrap_or_default())
        .collect();

    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("read infra/template.yaml");
    let declared = template.matches("Type: AWS::CloudWatch::Alarm").count();
    assert!(declared > 0);
    assert_eq!(
        alarms.len(),
        declared,
        "the template declares {declared} alarms; deployed: {:?}",
        alarms.iter().map(|a| a.alarm_name()).collect::<Vec<_>>()
    );

    let topic = stack.output("AlarmTopicArn");
    for alarm in &alarms {
        let name = alarm.alarm_name().unwrap_or_default();
        assert_eq!(
            alarm.alarm_actions(),
            [topic.to_owned()],
            "{name}: alarm actions"
        );
        assert_eq!(alarm.ok_actions(), [topic.to_owned()], "{name}: OK actions");
        assert!(
            alarm.actions_enabled() != Some(false),
            "{name}: actions disabled"
        );
    }
}
