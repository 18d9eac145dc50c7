#!/usr/bin/env bash
# iperf3 through kcptun and kcp-tunnel on loopback, same flags; prints Gbit/s and CPU s/GB.
# usage: iperf-side.sh SECS "FLAGS" [BIN]
secs=${1:-5}; flags=${2:-"--crypt none --mode fast3"}; bin=${3:-target/release/kcp-tunnel}
iperf3 -s -p 7000 >/dev/null 2>&1 & ip=$!
cpu() { awk '{print ($14+$15)/100}' /proc/$1/stat; }
run() { # name server client port
  $2 >/dev/null 2>&1 & local s=$!
  $3 >/dev/null 2>&1 & local c=$!
  sleep 1
  local s0=$(cpu $s) c0=$(cpu $c)
  local out=$(iperf3 -c 127.0.0.1 -p $4 -t $secs -J 2>/dev/null)
  local s1=$(cpu $s) c1=$(cpu $c)
  python3 - "$1" "$out" $s0 $s1 $c0 $c1 <<'PY'
import json,sys
name,out=sys.argv[1],sys.argv[2]; s0,s1,c0,c1=map(float,sys.argv[3:])
try:
  j=json.loads(out); bps=j["end"]["sum_received"]["bits_per_second"]; byts=j["end"]["sum_received"]["bytes"]
except Exception as e:
  print(name,"failed",out[:300]); sys.exit()
gb=byts/1e9
print(f"{name:10s} {bps/1e9:6.3f} Gbit/s  cpu server {s1-s0:5.2f}s client {c1-c0:5.2f}s  = {(s1-s0+c1-c0)/gb:6.2f} cpu-s/GB")
PY
  kill $s $c; wait $s $c 2>/dev/null
}
run kcptun "kcptun-server -l 127.0.0.1:6001 -t 127.0.0.1:7000 --key k $flags" "kcptun-client -l 127.0.0.1:6002 -r 127.0.0.1:6001 --key k $flags" 6002
run kcp-tunnel "$bin server -l 127.0.0.1:6003 -t 127.0.0.1:7000 --key k $flags" "$bin client -l 127.0.0.1:6004 -r 127.0.0.1:6003 --key k $flags" 6004
kill $ip
