//! Quantities moved to [`crate::quantity`] (rules read them too); kept here for callers.

pub use crate::quantity::{format_milli, parse_milli, subtract};
