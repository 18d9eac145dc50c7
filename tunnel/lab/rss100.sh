#!/usr/bin/env bash
# RSS with 100 concurrent bulk streams (iperf3 -P 100 for N s), peak (VmHWM) per process, kcptun vs kcp-tunnel with the same flags.
secs=${1:-10}; flags=${2:-"--crypt aes"}; bin=${3:-target/router/kcp-tunnel}
iperf3 -s -p 7100 >/dev/null 2>&1 & ip=$!
hwm() { awk '/^VmHWM/{print $2}' /proc/$1/status; }
run() {
  $2 >/dev/null 2>&1 & local s=$!
  $3 >/dev/null 2>&1 & local c=$!
  sleep 1
  local out=$(iperf3 -c 127.0.0.1 -p $4 -P 100 -t $secs -J 2>/dev/null | python3 -c 'import json,sys
try: print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6,1))
except Exception: print("fail")')
  printf "%-11s %s Mbit/s  peak rss server %s kB client %s kB\n" $1 "$out" $(hwm $s) $(hwm $c)
  kill $s $c; wait $s $c 2>/dev/null
}
run kcptun "kcptun-server -l 127.0.0.1:6201 -t 127.0.0.1:7100 --key k $flags --quiet" "kcptun-client -l 127.0.0.1:6202 -r 127.0.0.1:6201 --key k $flags --quiet" 6202
run kcp-tunnel "$bin server -l 127.0.0.1:6203 -t 127.0.0.1:7100 --key k $flags --quiet" "$bin client -l 127.0.0.1:6204 -r 127.0.0.1:6203 --key k $flags --quiet" 6204
kill $ip
