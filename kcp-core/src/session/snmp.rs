//! kcp-go's SNMP counter set (`DefaultSnmp`), in kcptun's `-snmplog` CSV order.

/// kcp-go 5.6.1's 24 counters. A session fills the per-session ones; a driver adds its
/// sessions' sets together ([`Snmp::add`]) and fills the connection counters (`MaxConn`,
/// `ActiveOpens`, `PassiveOpens`, `CurrEstab`), which a single session cannot know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snmp {
    /// Application bytes accepted by `send`.
    pub bytes_sent: u64,
    /// Application bytes handed out by `recv`.
    pub bytes_received: u64,
    /// Most sessions open at once (driver).
    pub max_conn: u64,
    /// Sessions opened by connecting (driver).
    pub active_opens: u64,
    /// Sessions opened by accepting (driver).
    pub passive_opens: u64,
    /// Sessions open now (driver).
    pub curr_estab: u64,
    /// Datagrams dropped before the ARQ: too short, or malformed FEC framing.
    pub in_errs: u64,
    /// Datagrams dropped for a bad checksum: corruption, or the wrong key or cipher.
    pub in_csum_errors: u64,
    /// Datagrams the ARQ rejected (malformed segments, another conversation).
    pub kcp_in_errors: u64,
    /// Datagrams received.
    pub in_pkts: u64,
    /// Datagrams sent.
    pub out_pkts: u64,
    /// KCP segments received.
    pub in_segs: u64,
    /// KCP segments sent.
    pub out_segs: u64,
    /// Datagram bytes received.
    pub in_bytes: u64,
    /// Datagram bytes sent.
    pub out_bytes: u64,
    /// Segments sent again: `LostSegs + FastRetransSegs + EarlyRetransSegs`.
    pub retrans_segs: u64,
    /// Segments resent after duplicate acknowledgements.
    pub fast_retrans_segs: u64,
    /// Segments resent early (here: overdue segments riding in a datagram's spare room).
    pub early_retrans_segs: u64,
    /// Segments resent after their timer expired.
    pub lost_segs: u64,
    /// Segments received twice.
    pub repeat_segs: u64,
    /// FEC parity shards received.
    pub fec_parity_shards: u64,
    /// FEC rebuilds that failed or gave an impossible shard.
    pub fec_errs: u64,
    /// Data shards rebuilt by FEC.
    pub fec_recovered: u64,
    /// FEC groups given up with data missing.
    pub fec_short_shards: u64,
}

impl Snmp {
    /// The counter names, in kcptun's CSV column order (after its leading `Unix` column).
    pub const NAMES: [&'static str; 24] = [
        "BytesSent",
        "BytesReceived",
        "MaxConn",
        "ActiveOpens",
        "PassiveOpens",
        "CurrEstab",
        "InErrs",
        "InCsumErrors",
        "KCPInErrors",
        "InPkts",
        "OutPkts",
        "InSegs",
        "OutSegs",
        "InBytes",
        "OutBytes",
        "RetransSegs",
        "FastRetransSegs",
        "EarlyRetransSegs",
        "LostSegs",
        "RepeatSegs",
        "FECParityShards",
        "FECErrs",
        "FECRecovered",
        "FECShortShards",
    ];

    /// The values, in [`Snmp::NAMES`] order.
    pub fn values(&self) -> [u64; 24] {
        [
            self.bytes_sent,
            self.bytes_received,
            self.max_conn,
            self.active_opens,
            self.passive_opens,
            self.curr_estab,
            self.in_errs,
            self.in_csum_errors,
            self.kcp_in_errors,
            self.in_pkts,
            self.out_pkts,
            self.in_segs,
            self.out_segs,
            self.in_bytes,
            self.out_bytes,
            self.retrans_segs,
            self.fast_retrans_segs,
            self.early_retrans_segs,
            self.lost_segs,
            self.repeat_segs,
            self.fec_parity_shards,
            self.fec_errs,
            self.fec_recovered,
            self.fec_short_shards,
        ]
    }

    /// Adds another set, counter by counter (a driver's total over its sessions).
    pub fn add(&mut self, other: &Snmp) {
        let mut sum = self.values();
        sum.iter_mut()
            .zip(other.values())
            .for_each(|(a, b)| *a += b);
        *self = Snmp::from_values(sum);
    }

    /// A set from values in [`Snmp::NAMES`] order.
    pub fn from_values(v: [u64; 24]) -> Snmp {
        Snmp {
            bytes_sent: v[0],
            bytes_received: v[1],
            max_conn: v[2],
            active_opens: v[3],
            passive_opens: v[4],
            curr_estab: v[5],
            in_errs: v[6],
            in_csum_errors: v[7],
            kcp_in_errors: v[8],
            in_pkts: v[9],
            out_pkts: v[10],
            in_segs: v[11],
            out_segs: v[12],
            in_bytes: v[13],
            out_bytes: v[14],
            retrans_segs: v[15],
            fast_retrans_segs: v[16],
            early_retrans_segs: v[17],
            lost_segs: v[18],
            repeat_segs: v[19],
            fec_parity_shards: v[20],
            fec_errs: v[21],
            fec_recovered: v[22],
            fec_short_shards: v[23],
        }
    }

    /// kcptun's CSV header line (no newline): `Unix,BytesSent,...`.
    pub fn csv_header() -> String {
        std::iter::once("Unix")
            .chain(Snmp::NAMES)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One CSV row (no newline) stamped with `unix_seconds`.
    pub fn csv_row(&self, unix_seconds: u64) -> String {
        std::iter::once(unix_seconds)
            .chain(self.values())
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::Snmp;

    #[test]
    fn csv_columns_follow_kcptun() {
        let header = Snmp::csv_header();
        assert!(header.starts_with("Unix,BytesSent,BytesReceived,MaxConn,"));
        assert!(header.ends_with(",FECErrs,FECRecovered,FECShortShards"));
        let snmp = Snmp::from_values(std::array::from_fn(|i| i as u64 + 1));
        assert_eq!(snmp.bytes_sent, 1);
        assert_eq!(snmp.fec_short_shards, 24);
        let row = snmp.csv_row(1_700_000_000);
        assert_eq!(row.split(',').count(), 25);
        assert!(row.starts_with("1700000000,1,2,3,"));
    }

    #[test]
    fn sets_add_counter_by_counter() {
        let mut total = Snmp::from_values([1; 24]);
        total.add(&Snmp::from_values(std::array::from_fn(|i| i as u64)));
        assert_eq!(total.values(), std::array::from_fn(|i| i as u64 + 1));
    }
}
