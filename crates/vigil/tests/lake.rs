//! End-to-end tests of the lake and of KQL over it: the `vigil` binary run on the shared
//! sample data.
//!
//! They read `../shared/data` beside the checkout (or `$VIGIL_SHARED_DATA`) and fail with
//! a message saying so when it is missing.

mod lake {
    pub mod common;
    mod copilot;
    mod crash;
    mod evtx;
    mod exports;
    mod hunt;
    mod otrf;
    mod query;
    mod rules;
}
