//! Integration tests that need no privilege.

mod support_selftest;
