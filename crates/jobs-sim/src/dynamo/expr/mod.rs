//! DynamoDB's expression language ([`ast`]), parsed ([`parse`]) and evaluated ([`eval`]) as DynamoDB does:
//! condition (and key condition, filter) expressions and update expressions over `#name` and
//! `:value` placeholders. Whatever DynamoDB refuses (a placeholder not given, one given and not
//! used, a path set twice, arithmetic on a missing attribute or a non-number) is refused with its
//! message's gist.

mod ast;
mod eval;
mod parse;

pub use ast::{Action, Cmp, Cond, ExprError, Item, Operand, Path, Step};
pub use eval::{apply, get, holds, written};
pub use parse::{Placeholders, condition, reserved, update};
