//! Plain data: what a session asks for (stems, chains, versions, reference, deliverables,
//! presets), parsed and validated, with no audio work.

pub mod bus;
pub mod chain;
pub mod deliver;
pub mod keys;
pub mod platform;
pub mod preset;
pub mod reference;
pub mod session;
pub mod stem;
pub mod version;
pub mod vinyl;
