//! The generator: a pure, seeded source of operations (lead's work in progress).
