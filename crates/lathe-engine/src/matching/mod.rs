//! Deciding a chain from measurements: reference matching, the mix assistant, and the plot
//! of a match.

pub mod assistant;
pub mod plot;
pub mod reference;
pub mod roles;
pub mod stem_assistant;
pub mod stem_facts;
mod stem_tonal;
