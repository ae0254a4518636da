//! The one way secrets, tokens and MACs are compared in this workspace.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
