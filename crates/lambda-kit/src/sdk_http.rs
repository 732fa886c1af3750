//! SDK HTTP clients that wrap another one: the plumbing written once.
//!
//! | item | what |
//! | --- | --- |
//! | [`ConnectorLayer`] | what a wrapper adds: a connector around the wrapped client's connector |
//! | [`LayeredClient`] | an `HttpClient` made of a wrapped client and a layer ([`crate::round_trips::RecordingClient`], [`crate::faults::FaultInjectingClient`]) |
//! | [`target_operation`] | the operation named by an `X-Amz-Target` header |
//!
//! The AWS SDK asks an `HttpClient` for a connector per set of connector settings and checks
//! its configuration; a wrapper passes all of that to the client it wraps and only puts its
//! own connector in front. Each wrapper used to repeat those four methods.

use std::fmt;
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// What a wrapping client adds to the calls it carries.
pub trait ConnectorLayer: fmt::Debug + Send + Sync + 'static {
    /// The connector to use: one that does this layer's work around `inner` (the wrapped
    /// client's connector for these `settings`).
    fn layer(
        &self,
        inner: SharedHttpConnector,
        settings: &HttpConnectorSettings,
    ) -> SharedHttpConnector;
}

/// An SDK HTTP client: `inner`, with `layer`'s connector in front of its connectors.
pub struct LayeredClient<L> {
    inner: SharedHttpClient,
    layer: Arc<L>,
}

impl<L> Clone for LayeredClient<L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<L: fmt::Debug> fmt::Debug for LayeredClient<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredClient")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<L: ConnectorLayer> LayeredClient<L> {
    /// `inner` with `layer` in front.
    pub fn layered(inner: SharedHttpClient, layer: L) -> Self {
        Self {
            inner,
            layer: Arc::new(layer),
        }
    }

    /// The layer (tests and the wrappers' own builders).
    pub(crate) fn layer_mut(&mut self) -> Option<&mut L> {
        Arc::get_mut(&mut self.layer)
    }

    /// As the SDK's shared client type.
    pub fn into_shared(self) -> SharedHttpClient {
        SharedHttpClient::new(self)
    }
}

impl<L: ConnectorLayer> HttpClient for LayeredClient<L> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.layer
            .layer(self.inner.http_connector(settings, components), settings)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// The operation of an `X-Amz-Target` header (`DynamoDB_20120810.PutItem` → `PutItem`; a
/// value without a dot is the operation itself).
pub fn target_operation(target: &str) -> &str {
    target.rsplit_once('.').map_or(target, |(_, op)| op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_is_after_the_last_dot() {
        assert_eq!(target_operation("DynamoDB_20120810.PutItem"), "PutItem");
        assert_eq!(target_operation("AmazonSQS.SendMessage"), "SendMessage");
        assert_eq!(target_operation("PutItem"), "PutItem");
    }
}
