//! The master bus as stages: the chain before the gain, the stages between the gain and the
//! limiter, and the limiter (the split is made by [`crate::spec::session::Session::bus`]).

use lathe_dsp::limiter::LimiterSettings;

use crate::spec::chain::ProcessorSpec;

/// The stages of a master bus: `chain`, then the gain into the limiter, then `post_gain`
/// stages (a clipper that shaves what the gain pushed over), then the limiter.
#[derive(Clone, Debug, Default)]
pub struct Bus {
    pub chain: Vec<ProcessorSpec>,
    pub post_gain: Vec<ProcessorSpec>,
    pub limiter: Option<LimiterSettings>,
}
