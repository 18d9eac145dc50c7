//! The mio UDP driver. (In progress.)
