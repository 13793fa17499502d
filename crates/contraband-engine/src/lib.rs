//! The detection pipeline shared by `hunt` and `watch`: events in, alerts
//! out. No stage knows which source fed it.

mod alert;
mod engine;
mod enrich;
mod level;
pub mod load;
pub mod rule_tests;
mod strategy;
mod suppress;

pub use alert::{Alert, Attack, Process, RawEvent, RuleInfo, StrategyInfo};
pub use engine::{Correlator, Engine, Hit, Scratch};
pub use enrich::{ContainerIndex, ProcessAttributor};
pub use level::Level;
pub use strategy::{
    builtin_strategies, Categorization, Priority, Resource, Strategy, StrategyError, Technique,
    Validation,
};
pub mod report;
pub use suppress::Deduper;
