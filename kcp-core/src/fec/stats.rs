//! Counters of an FEC decoder and encoder.

/// What the FEC layer has seen and done. Every shard that is not used is counted under the
/// reason it was dropped for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FecStats {
    /// Data shards received (kcp-go delivers them to the ARQ at once, before FEC looks at them).
    pub data_shards_in: u64,
    /// Parity shards received (`FECParityShards`).
    pub parity_shards_in: u64,
    /// Data shards rebuilt from parity and handed to the ARQ (`FECRecovered`).
    pub recovered: u64,
    /// Rebuilds that failed, or rebuilt shards whose size field was out of range (`FECErrs`).
    pub errors: u64,
    /// Groups given up with data still missing: evicted by newer groups or too old
    /// (`FECShortShards` counts such data shards in kcp-go; here, groups).
    pub abandoned_groups: u64,
    /// Shards of a group already complete, rebuilt or abandoned. Normal for parity when nothing
    /// was lost: it arrives after the data it protects.
    pub late: u64,
    /// Shards received twice.
    pub duplicate: u64,
    /// Shards whose header or length cannot be right (bad flag, position, size or length).
    pub malformed: u64,
    /// Parity shards sent.
    pub parity_shards_out: u64,
    /// Groups closed by their deadline rather than by filling up (native framing).
    pub groups_closed_by_deadline: u64,
}
