//! `shopctl`'s library: the commands that the integration tests also call as functions.
//!
//! | module | what |
//! | --- | --- |
//! | [`trace`] | one order's journey from the logs, the execution history and the tables |
//! | [`partner`] | partner API keys in the partner usage plan (`shopctl partner-key`) |
//! | [`replay`] | stored events replayed to one consumer's queue; the analytics projection rebuilt and compared |

pub mod partner;
pub mod replay;
pub mod trace;
