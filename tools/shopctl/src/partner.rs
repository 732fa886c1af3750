//! `shopctl partner-key`: API keys of the partner usage plan (`GET /partner/products`).
//!
//! The template creates the plan (`PartnerUsagePlan`: rate, burst and a daily quota per key;
//! its id is the stack output `PartnerUsagePlanId`) but no keys: a key is a secret and one
//! belongs to each partner, so an operator makes them here.
//!
//! | command | what it does |
//! | --- | --- |
//! | `create --name <partner>` | a new enabled API key named `partner-<partner>`, added to the plan; prints its id and its value, once |
//! | `list` | the plan's keys: id and name (never a value) |
//! | `revoke --id <key id>` | takes the key out of the plan, then deletes it (only a key of this plan) |
//!
//! The value is printed by the command only, on stdout, and nowhere else: [`NewPartnerKey`]'s
//! `Debug` hides it, and no error carries it. API Gateway generates it (40 characters).
//! A key that was created but could not be added to the plan is deleted again (a key in no plan
//! would be refused anyway, but it should not linger as a secret nobody knows to revoke).
//!
//! The AWS calls go through [`KeyRegistry`] ([`ApiGatewayKeys`] on the SDK), so the rules
//! above are unit-tested against [`InMemoryKeys`](tests) without AWS.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};

/// The stack output naming the partner usage plan.
pub const PLAN_OUTPUT: &str = "PartnerUsagePlanId";
/// Prefix of the keys' names in API Gateway (a key named `partner-acme` is partner `acme`'s).
pub const KEY_NAME_PREFIX: &str = "partner-";
/// Longest partner name.
pub const MAX_NAME_LEN: usize = 64;

/// Why a `partner-key` command failed. No variant carries a key's value.
#[derive(Debug, thiserror::Error)]
pub enum PartnerKeyError {
    /// The partner name is not 1 to 64 of `A-Z a-z 0-9 . _ -`.
    #[error(
        "partner name {0:?} is not valid: 1 to {MAX_NAME_LEN} letters, digits, '.', '_' or '-'"
    )]
    InvalidName(String),
    /// Not an API key id.
    #[error(
        "{0:?} is not an API key id (letters and digits; `shopctl partner-key list` shows them)"
    )]
    InvalidKeyId(String),
    /// The stack outputs could not be read or do not name the plan.
    #[error("cannot read the partner usage plan from {path}: {reason}")]
    Outputs {
        /// The outputs file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `revoke` of a key that is not in the partner plan (not one of ours: left alone).
    #[error("API key {0} is not in the partner usage plan: not revoked")]
    NotAPartnerKey(String),
    /// The key was created but not added to the plan, and then deleted again.
    #[error(
        "API key {key_id} was created but could not be added to the plan ({message}); it was deleted again"
    )]
    NotAdded {
        /// The deleted key.
        key_id: String,
        /// Why it could not be added.
        message: String,
    },
    /// The key was created, not added to the plan, and could not be deleted either: delete it.
    #[error(
        "API key {key_id} was created but could not be added to the plan ({message}), nor deleted ({cleanup}): delete it with `aws apigateway delete-api-key --api-key {key_id}`"
    )]
    Orphaned {
        /// The key left behind (its id only).
        key_id: String,
        /// Why it could not be added.
        message: String,
        /// Why it could not be deleted.
        cleanup: String,
    },
    /// An API Gateway call failed.
    #[error("API Gateway {operation} failed: {message}")]
    Api {
        /// The call.
        operation: &'static str,
        /// The SDK's error, in full.
        message: String,
    },
}

/// A partner's name, as given to `create --name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerName(String);

impl PartnerName {
    /// Checks `name`: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `.`, `_` or `-`.
    pub fn parse(name: &str) -> Result<Self, PartnerKeyError> {
        let valid = (1..=MAX_NAME_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(PartnerKeyError::InvalidName(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The API key's name in API Gateway: `partner-<name>`.
    pub fn key_name(&self) -> String {
        format!("{KEY_NAME_PREFIX}{}", self.0)
    }
}

/// Checks an API key id (API Gateway's are 10 lower-case letters and digits; LocalStack's
/// alike): letters and digits only, so nothing else reaches a delete.
pub fn parse_key_id(id: &str) -> Result<String, PartnerKeyError> {
    if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id.to_owned())
    } else {
        Err(PartnerKeyError::InvalidKeyId(id.to_owned()))
    }
}

/// A key just created: the only time its value is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPartnerKey {
    /// API Gateway's id of the key (not secret).
    pub id: String,
    /// The key's name (`partner-<name>`).
    pub name: String,
    /// The secret the partner sends in `x-api-key`.
    pub value: String,
}

impl std::fmt::Debug for NewPartnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPartnerKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// A key of the plan, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerKey {
    /// API Gateway's id of the key.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The API Gateway calls the commands make ([`ApiGatewayKeys`]; an in-memory one in the
/// tests). Errors are the SDK's messages.
pub trait KeyRegistry {
    /// Creates an enabled API key named `name`, its value generated by the service.
    fn create_key(
        &self,
        name: &str,
        description: &str,
    ) -> impl Future<Output = Result<NewPartnerKey, String>> + Send;
    /// Adds key `key_id` to usage plan `plan`.
    fn add_to_plan(
        &self,
        plan: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// The keys of usage plan `plan`.
    fn plan_keys(&self, plan: &str)
    -> impl Future<Output = Result<Vec<PartnerKey>, String>> + Send;
    /// Takes key `key_id` out of usage plan `plan`.
    fn remove_from_plan(
        &self,
        plan: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Deletes API key `key_id`.
    fn delete_key(&self, key_id: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// Creates partner `name`'s key and adds it to `plan`; deletes it again if it cannot be added.
pub async fn create(
    keys: &impl KeyRegistry,
    plan: &str,
    name: &PartnerName,
) -> Result<NewPartnerKey, PartnerKeyError> {
    let description = format!(
        "Partner {}: GET /partner/products (shopctl partner-key)",
        name.as_str()
    );
    let key = keys
        .create_key(&name.key_name(), &description)
        .await
        .map_err(|message| PartnerKeyError::Api {
            operation: "CreateApiKey",
            message,
        })?;
    if let Err(message) = keys.add_to_plan(plan, &key.id).await {
        return Err(match keys.delete_key(&key.id).await {
            Ok(()) => PartnerKeyError::NotAdded {
                key_id: key.id,
                message,
            },
            Err(cleanup) => PartnerKeyError::Orphaned {
                key_id: key.id,
                message,
                cleanup,
            },
        });
    }
    Ok(key)
}

/// The partner plan's keys, by name.
pub async fn list(keys: &impl KeyRegistry, plan: &str) -> Result<Vec<PartnerKey>, PartnerKeyError> {
    let mut found = keys
        .plan_keys(plan)
        .await
        .map_err(|message| PartnerKeyError::Api {
            operation: "GetUsagePlanKeys",
            message,
        })?;
    found.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(found)
}

/// Revokes key `key_id`: out of the plan, then deleted. Only a key of the partner plan.
pub async fn revoke(
    keys: &impl KeyRegistry,
    plan: &str,
    key_id: &str,
) -> Result<PartnerKey, PartnerKeyError> {
    let key = list(keys, plan)
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
        .ok_or_else(|| PartnerKeyError::NotAPartnerKey(key_id.to_owned()))?;
    keys.remove_from_plan(plan, key_id)
        .await
        .map_err(|message| PartnerKeyError::Api {
            operation: "DeleteUsagePlanKey",
            message,
        })?;
    keys.delete_key(key_id)
        .await
        .map_err(|message| PartnerKeyError::Api {
            operation: "DeleteApiKey",
            message,
        })?;
    Ok(key)
}

/// The partner plan's id from a stack outputs file (`.local/stack-outputs.json`, or the
/// CloudFormation stack's outputs saved as a JSON object of strings).
pub fn plan_id_from_outputs(path: &Path) -> Result<String, PartnerKeyError> {
    let fail = |reason: String| PartnerKeyError::Outputs {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    plan_id_in(&text).map_err(fail)
}

fn plan_id_in(text: &str) -> Result<String, String> {
    let outputs: HashMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| e.to_string())?;
    outputs
        .get(PLAN_OUTPUT)
        .and_then(serde_json::Value::as_str)
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            format!("no {PLAN_OUTPUT} output (a stack deployed before the partner plan: deploy it again)")
        })
}

/// [`KeyRegistry`] on API Gateway.
#[derive(Debug, Clone)]
pub struct ApiGatewayKeys {
    client: aws_sdk_apigateway::Client,
}

impl ApiGatewayKeys {
    /// Over `client`.
    pub fn new(client: aws_sdk_apigateway::Client) -> Self {
        Self { client }
    }
}

fn sdk_message<E: std::error::Error>(err: E) -> String {
    aws_sdk_apigateway::error::DisplayErrorContext(err).to_string()
}

impl KeyRegistry for ApiGatewayKeys {
    async fn create_key(&self, name: &str, description: &str) -> Result<NewPartnerKey, String> {
        let out = self
            .client
            .create_api_key()
            .name(name)
            .description(description)
            .enabled(true)
            .send()
            .await
            .map_err(sdk_message)?;
        match (out.id(), out.value()) {
            (Some(id), Some(value)) => Ok(NewPartnerKey {
                id: id.to_owned(),
                name: out.name().unwrap_or(name).to_owned(),
                value: value.to_owned(),
            }),
            _ => Err("CreateApiKey answered without the key's id or value".to_owned()),
        }
    }

    async fn add_to_plan(&self, plan: &str, key_id: &str) -> Result<(), String> {
        self.client
            .create_usage_plan_key()
            .usage_plan_id(plan)
            .key_id(key_id)
            .key_type("API_KEY")
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_message)
    }

    async fn plan_keys(&self, plan: &str) -> Result<Vec<PartnerKey>, String> {
        let mut keys = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let out = self
                .client
                .get_usage_plan_keys()
                .usage_plan_id(plan)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(sdk_message)?;
            // The answer carries each key's value too: only the id and name are kept.
            keys.extend(out.items().iter().filter_map(|k| {
                Some(PartnerKey {
                    id: k.id()?.to_owned(),
                    name: k.name().unwrap_or_default().to_owned(),
                })
            }));
            match out.position() {
                Some(next) if !next.is_empty() => position = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }

    async fn remove_from_plan(&self, plan: &str, key_id: &str) -> Result<(), String> {
        self.client
            .delete_usage_plan_key()
            .usage_plan_id(plan)
            .key_id(key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_message)
    }

    async fn delete_key(&self, key_id: &str) -> Result<(), String> {
        self.client
            .delete_api_key()
            .api_key(key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_message)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// API keys and plans in memory; `fail` names the one call that fails.
    #[derive(Debug, Default)]
    struct InMemoryKeys {
        keys: Mutex<Vec<PartnerKey>>,
        plans: Mutex<Vec<(String, String)>>,
        next: Mutex<u32>,
        fail: Option<&'static str>,
    }

    impl InMemoryKeys {
        fn failing(call: &'static str) -> Self {
            Self {
                fail: Some(call),
                ..Self::default()
            }
        }
        fn check(&self, call: &'static str) -> Result<(), String> {
            match self.fail {
                Some(failing) if failing == call => Err(format!("{call}: boom")),
                _ => Ok(()),
            }
        }
        fn key_ids(&self) -> Vec<String> {
            self.keys
                .lock()
                .unwrap()
                .iter()
                .map(|k| k.id.clone())
                .collect()
        }
    }

    impl KeyRegistry for InMemoryKeys {
        async fn create_key(&self, name: &str, _: &str) -> Result<NewPartnerKey, String> {
            self.check("create")?;
            let mut next = self.next.lock().unwrap();
            *next += 1;
            let id = format!("key{next}");
            self.keys.lock().unwrap().push(PartnerKey {
                id: id.clone(),
                name: name.to_owned(),
            });
            Ok(NewPartnerKey {
                id,
                name: name.to_owned(),
                value: format!("secret-{next}"),
            })
        }
        async fn add_to_plan(&self, plan: &str, key_id: &str) -> Result<(), String> {
            self.check("add")?;
            self.plans
                .lock()
                .unwrap()
                .push((plan.to_owned(), key_id.to_owned()));
            Ok(())
        }
        async fn plan_keys(&self, plan: &str) -> Result<Vec<PartnerKey>, String> {
            self.check("plan_keys")?;
            let plans = self.plans.lock().unwrap();
            Ok(self
                .keys
                .lock()
                .unwrap()
                .iter()
                .filter(|k| plans.iter().any(|(p, id)| p == plan && *id == k.id))
                .cloned()
                .collect())
        }
        async fn remove_from_plan(&self, plan: &str, key_id: &str) -> Result<(), String> {
            self.check("remove")?;
            self.plans
                .lock()
                .unwrap()
                .retain(|(p, id)| !(p == plan && id == key_id));
            Ok(())
        }
        async fn delete_key(&self, key_id: &str) -> Result<(), String> {
            self.check("delete")?;
            self.keys.lock().unwrap().retain(|k| k.id != key_id);
            Ok(())
        }
    }

    fn name(value: &str) -> PartnerName {
        PartnerName::parse(value).unwrap()
    }

    #[tokio::test]
    async fn create_list_and_revoke_a_partner_key() {
        let keys = InMemoryKeys::default();
        let acme = create(&keys, "plan1", &name("acme")).await.unwrap();
        assert_eq!(
            (acme.id.as_str(), acme.name.as_str()),
            ("key1", "partner-acme")
        );
        assert_eq!(acme.value, "secret-1");
        let beta = create(&keys, "plan1", &name("beta.shop")).await.unwrap();
        // A key of another plan is not a partner key.
        let other = keys.create_key("someone-else", "").await.unwrap();
        keys.add_to_plan("plan2", &other.id).await.unwrap();

        let listed = list(&keys, "plan1").await.unwrap();
        let names: Vec<&str> = listed.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["partner-acme", "partner-beta.shop"]);

        assert!(matches!(
            revoke(&keys, "plan1", &other.id).await,
            Err(PartnerKeyError::NotAPartnerKey(id)) if id == other.id
        ));
        let revoked = revoke(&keys, "plan1", &acme.id).await.unwrap();
        assert_eq!(revoked.name, "partner-acme");
        assert_eq!(keys.key_ids(), [beta.id.clone(), other.id.clone()]);
        assert_eq!(list(&keys, "plan1").await.unwrap().len(), 1);
        // Twice: the key is gone, so it is no longer a partner key.
        assert!(matches!(
            revoke(&keys, "plan1", &acme.id).await,
            Err(PartnerKeyError::NotAPartnerKey(_))
        ));
    }

    #[tokio::test]
    async fn a_key_that_cannot_join_the_plan_is_deleted_again() {
        let keys = InMemoryKeys::failing("add");
        let err = create(&keys, "plan1", &name("acme")).await.unwrap_err();
        assert!(matches!(&err, PartnerKeyError::NotAdded { key_id, .. } if key_id == "key1"));
        assert!(keys.key_ids().is_empty(), "no orphan key");
        // The secret is in no error message.
        assert!(!err.to_string().contains("secret-"), "{err}");
    }

    #[tokio::test]
    async fn a_key_that_cannot_be_deleted_either_is_named_for_the_operator() {
        #[derive(Debug)]
        struct AddAndDeleteFail(InMemoryKeys);
        impl KeyRegistry for AddAndDeleteFail {
            async fn create_key(&self, n: &str, d: &str) -> Result<NewPartnerKey, String> {
                self.0.create_key(n, d).await
            }
            async fn add_to_plan(&self, _: &str, _: &str) -> Result<(), String> {
                Err("add: boom".to_owned())
            }
            async fn plan_keys(&self, plan: &str) -> Result<Vec<PartnerKey>, String> {
                self.0.plan_keys(plan).await
            }
            async fn remove_from_plan(&self, p: &str, k: &str) -> Result<(), String> {
                self.0.remove_from_plan(p, k).await
            }
            async fn delete_key(&self, _: &str) -> Result<(), String> {
                Err("delete: boom".to_owned())
            }
        }
        let keys = AddAndDeleteFail(InMemoryKeys::default());
        let err = create(&keys, "plan1", &name("acme")).await.unwrap_err();
        let PartnerKeyError::Orphaned { key_id, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(key_id, "key1");
        assert!(
            err.to_string().contains("delete-api-key --api-key key1"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn failures_name_the_call() {
        let err = create(&InMemoryKeys::failing("create"), "p", &name("a"))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            PartnerKeyError::Api {
                operation: "CreateApiKey",
                ..
            }
        ));
        let keys = InMemoryKeys::default();
        let key = create(&keys, "p", &name("a")).await.unwrap();
        let failing = InMemoryKeys {
            fail: Some("remove"),
            ..InMemoryKeys::default()
        };
        let kept = create(&failing, "p", &name("a")).await.unwrap();
        assert!(matches!(
            revoke(&failing, "p", &kept.id).await,
            Err(PartnerKeyError::Api {
                operation: "DeleteUsagePlanKey",
                ..
            })
        ));
        assert_eq!(
            failing.key_ids(),
            [kept.id],
            "not deleted while still in the plan"
        );
        assert!(revoke(&keys, "p", &key.id).await.is_ok());
    }

    #[test]
    fn partner_names_and_key_ids_are_checked() {
        for good in ["acme", "Acme-Shop_2.eu", &"a".repeat(MAX_NAME_LEN)] {
            assert_eq!(PartnerName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "a b",
            "acme/1",
            "ünï",
            "x;rm",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(
                matches!(
                    PartnerName::parse(bad),
                    Err(PartnerKeyError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(name("acme").key_name(), "partner-acme");
        assert_eq!(parse_key_id("a1b2c3d4e5").unwrap(), "a1b2c3d4e5");
        for bad in ["", "a1 b2", "../x", "id;x"] {
            assert!(parse_key_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_value_of_a_new_key_is_not_in_its_debug_output() {
        let key = NewPartnerKey {
            id: "k1".into(),
            name: "partner-acme".into(),
            value: "very-secret-value".into(),
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("k1") && !shown.contains("very-secret-value"),
            "{shown}"
        );
    }

    #[test]
    fn the_plan_id_comes_from_the_stack_outputs() {
        assert_eq!(
            plan_id_in(r#"{"ApiId": "a", "PartnerUsagePlanId": "up123"}"#).unwrap(),
            "up123"
        );
        for bad in [
            r#"{"ApiId": "a"}"#,
            r#"{"PartnerUsagePlanId": ""}"#,
            "not json",
        ] {
            assert!(plan_id_in(bad).is_err(), "{bad}");
        }
        let missing = plan_id_from_outputs(Path::new("/nonexistent/outputs.json"));
        assert!(matches!(missing, Err(PartnerKeyError::Outputs { .. })));
    }
}
