//! payment: the tokens the simulated provider knows: the checkout's [`PaymentToken`]s, which
//! decide how a charge behaves, and the refund-side tokens, whose charge succeeds and whose
//! refund fails (the table is in the [module doc](super)).

use crate::orders::PaymentToken;

/// A token the simulated provider does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown payment token {0:?}: use one of {allowed}",
    allowed = ProviderToken::ALLOWED
)]
pub struct UnknownToken(pub String);

/// A token of the simulated provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderToken {
    /// `tok_ok`, `tok_declined`, `tok_flaky_N`, `tok_down`, `tok_pending_N`,
    /// `tok_pending_forever`: the charge's behaviour; their refunds always succeed (a refund
    /// of a charge still pending voids it).
    Checkout(PaymentToken),
    /// `tok_refund_flaky_N`: the charge succeeds; the refund is unavailable on its first N
    /// (1..=9) attempts, then succeeds.
    RefundFlaky(u8),
    /// `tok_refund_down`: the charge succeeds; every refund is unavailable.
    RefundDown,
}

impl ProviderToken {
    /// The accepted tokens, for error messages.
    pub const ALLOWED: &'static str = "tok_ok, tok_declined, tok_flaky_N, tok_down, \
                                       tok_refund_flaky_N (N = 1..9), tok_refund_down, \
                                       tok_pending_N (N = 1..9), tok_pending_forever";

    /// Reads a token as sent by the workflow or stored with a charge.
    pub fn parse(value: &str) -> Result<Self, UnknownToken> {
        // One list of tokens (the orders' `PaymentToken`): the refund-side ones are told apart
        // here because their charge behaves like `tok_ok`.
        match PaymentToken::parse(value) {
            Ok(PaymentToken::RefundDown) => Ok(Self::RefundDown),
            Ok(PaymentToken::RefundFlaky(n)) => Ok(Self::RefundFlaky(n)),
            Ok(token) => Ok(Self::Checkout(token)),
            Err(_) => Err(UnknownToken(value.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checkout_and_refund_tokens() {
        assert_eq!(
            ProviderToken::parse("tok_ok"),
            Ok(ProviderToken::Checkout(PaymentToken::Ok))
        );
        assert_eq!(
            ProviderToken::parse("tok_flaky_3"),
            Ok(ProviderToken::Checkout(PaymentToken::Flaky(3)))
        );
        assert_eq!(
            ProviderToken::parse("tok_refund_down"),
            Ok(ProviderToken::RefundDown)
        );
        for n in 1..=9u8 {
            assert_eq!(
                ProviderToken::parse(&format!("tok_refund_flaky_{n}")),
                Ok(ProviderToken::RefundFlaky(n))
            );
            assert_eq!(
                ProviderToken::parse(&format!("tok_pending_{n}")),
                Ok(ProviderToken::Checkout(PaymentToken::Pending(n)))
            );
        }
        assert_eq!(
            ProviderToken::parse("tok_pending_forever"),
            Ok(ProviderToken::Checkout(PaymentToken::PendingForever))
        );
        for bad in [
            "",
            "tok_refund_flaky_0",
            "tok_refund_flaky_10",
            "tok_refund_flaky_",
            "tok_refund_flaky_x",
            "tok_refund_up",
            "TOK_REFUND_DOWN",
            "tok_pending_0",
            "tok_pending_10",
        ] {
            let err = ProviderToken::parse(bad).map_err(|e| e.to_string());
            assert!(
                err.as_ref().is_err_and(
                    |m| m.contains("tok_refund_down") && m.contains("tok_pending_forever")
                ),
                "{bad:?}: {err:?}"
            );
        }
    }
}
