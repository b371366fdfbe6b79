//! Crash test (below).
