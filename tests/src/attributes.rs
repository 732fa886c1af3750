//! Reading DynamoDB items: [`number`] and [`text`] attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A numeric attribute of a DynamoDB item.
pub fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().expect("a DynamoDB number"),
        other => panic!("attribute {name} is not a number: {other:?}"),
    }
}

/// A string attribute of a DynamoDB item ("" when absent).
pub fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        _ => String::new(),
    }
}
