//! Invoices: the local mirror of Stripe's, whichever way a snapshot arrives (`invoice.*`
//! events, API answers, `tollgate sync invoices`), and the viewer's and admin's lists.
//!
//! - `lines`: an invoice line as Tollgate stores it (quotes store theirs the same way);
//! - `projection`: a snapshot applied to its row, every line page fetched, the newest
//!   snapshot winning and a paid or voided invoice never walked back;
//! - `lookup`: one invoice for a viewer, and pages of them newest first.

mod lines;
mod lookup;
mod projection;

pub use entity::InvoiceStatus;
pub use lines::Line;
pub use lookup::{cursor_of, find_for_viewer, page, InvoiceFilter, InvoicePage, MAX_PAGE};
pub use projection::{apply, forget, retrieve_and_apply};
