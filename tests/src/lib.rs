//! Behaviour suites for both clients.
