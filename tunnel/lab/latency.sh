#!/usr/bin/env bash
# The latency table: plain TCP, kcptun (fast3, crypt none, nocomp), kcp-tunnel with the same
# flags and kcp-tunnel sealed (fast3) over the lab's impaired link (../shared/lab), one run.
#   tunnel/lab/latency.sh ["LOSSES"] [COUNT] [BIN]      e.g. latency.sh "0 2 5 10 20" 600
# EXTRA="-ds 0 -ps 0" adds flags to the kcptun and compatible paths. Needs root (namespaces)
# and a quiet machine: the link is a user-space process.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
losses=${1:-"10 20"}; count=${2:-500}; bin=${3:-$root/target/release/kcp-tunnel}
lab=${LAB:-$root/../shared/lab}
F="--mode fast3 --crypt none --nocomp --quiet ${EXTRA:-}"
cd "$lab" && ./latency-table.sh --delay 25 --loss "$losses" --count "$count" \
  kcptun "kcptun-server -l :4001 -t 127.0.0.1:7000 $F" "kcptun-client -l 127.0.0.1:\$PORT -r 10.77.0.2:4001 $F" \
  compat "$bin server -l :4002 -t 127.0.0.1:7000 $F" "$bin client -l 127.0.0.1:\$PORT -r 10.77.0.2:4002 $F" \
  sealed "$bin server -l :4003 -t 127.0.0.1:7000 --mode fast3 --key latency-lab-key --quiet" "$bin client -l 127.0.0.1:\$PORT -r 10.77.0.2:4003 --mode fast3 --key latency-lab-key --quiet" \
  | python3 -c '
import json,sys
for l in sys.stdin:
    d=json.loads(l); r=d["result"]
    print("%4s%% %-8s mean %7.1f p50 %7.1f p99 %7.1f max %7.1f lost %s" % (d["loss"], d["path"], r["mean"], r["p50"], r["p99"], r["max"], r["lost"]))'
