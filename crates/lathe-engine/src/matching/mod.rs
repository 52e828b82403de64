//! Deciding a chain from measurements: reference matching, the mix assistant, and the plot
//! of a match.

pub mod assistant;
pub mod plot;
pub mod reference;
