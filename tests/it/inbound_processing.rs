//! Processing tests (below).
