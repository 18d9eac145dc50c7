#!/usr/bin/env bash
# Idle footprint: RSS and wake-ups (voluntary context switches, all threads) over N seconds with a session up and no traffic.
secs=${1:-20}; bin=${2:-target/router/kcp-tunnel}; flags=${3:-"--crypt aes"}
ctx() { local t=0; for f in /proc/$1/task/*/status; do t=$((t+$(awk '/^voluntary_ctxt_switches/{print $2}' $f))); done; echo $t; }
rss() { awk '/^VmRSS/{print $2}' /proc/$1/status; }
cpu() { awk '{print ($14+$15)}' /proc/$1/stat; }
measure() { # name spid cpid
  sleep 3; local s0=$(ctx $2) c0=$(ctx $3) sc0=$(cpu $2) cc0=$(cpu $3)
  sleep $secs
  local s1=$(ctx $2) c1=$(ctx $3) sc1=$(cpu $2) cc1=$(cpu $3)
  printf "%-11s server rss %6s kB wakeups/s %6.2f cpu-ticks %3d | client rss %6s kB wakeups/s %6.2f cpu-ticks %3d\n" $1 $(rss $2) $(echo "($s1-$s0)/$secs" | bc -l) $((sc1-sc0)) $(rss $3) $(echo "($c1-$c0)/$secs" | bc -l) $((cc1-cc0))
}
python3 -c '
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",7999)); s.listen(8); c=[]
while True: c.append(s.accept())' & tgt=$!
hold() { python3 -c "import socket,time,sys; c=socket.create_connection(('127.0.0.1',int(sys.argv[1]))); time.sleep(int(sys.argv[2]))" $1 $((secs+10)) & }
kcptun-server -l 127.0.0.1:6101 -t 127.0.0.1:7999 --key k $flags >/dev/null 2>&1 & s=$!
kcptun-client -l 127.0.0.1:6102 -r 127.0.0.1:6101 --key k $flags >/dev/null 2>&1 & c=$!
sleep 1; hold 6102; measure kcptun $s $c; kill $s $c
$bin server -l 127.0.0.1:6103 -t 127.0.0.1:7999 --key k $flags >/dev/null 2>&1 & s=$!
$bin client -l 127.0.0.1:6104 -r 127.0.0.1:6103 --key k $flags >/dev/null 2>&1 & c=$!
sleep 1; hold 6104; measure kcp-tunnel $s $c; kill $s $c; kill $tgt
