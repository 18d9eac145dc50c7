//! Legacy (kcp-go compatible) endpoint: sessions keyed by source address. (In progress.)
