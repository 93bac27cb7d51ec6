//! End-to-end tests of the lake and of KQL over it: the `vigil` binary run on the shared
//! sample data.
//!
//! They read `../shared/data` beside the checkout (or `$VIGIL_SHARED_DATA`) and fail with
//! a message saying so when it is missing.

mod lake {
    pub mod common;
    mod copilot;
    mod crash;
    pub mod demo;
    mod evtx;
    mod exports;
    pub mod fixture_http;
    mod hunt;
    mod model;
    mod otrf;
    mod plugins;
    mod query;
    mod rules;
    mod serve;
}
