#!/usr/bin/env bash
# Highest OPTIONS rate our UAS answers without failures (issue 5): a release `ac-sip-ua serve`
# on 127.0.0.1, pinned to one core, and sipp (sip-tester) on the other core sending one OPTIONS
# per call at increasing rates for a bounded time each (DURATION seconds, default 10). For each
# rate it prints the rate asked, the rate sipp achieved, successful and failed calls, and the
# UAS's own OPTIONS count. Loopback only; every process stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
RATES=${RATES:-"2000 5000 10000 15000 20000 30000"}
cargo build -q --release -p ac-sip --bin ac-sip-ua
UA=target/release/ac-sip-ua
SF=crates/ac-sip/tests/sipp/options.xml
port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
printf '%8s %10s %10s %8s %10s\n' asked achieved successful failed uas_count
for r in $RATES; do
  n=$((r * DURATION))
  p=$(port)
  out=$(mktemp)
  dir=$(mktemp -d)
  mkfifo "$dir/in"
  taskset -c 0 "$UA" serve --udp "127.0.0.1:$p" --duration $((DURATION + 60)) --stop-on-eof \
    <"$dir/in" >"$dir/uas.log" &
  uas=$!
  exec 3>"$dir/in"
  until grep -q listening "$dir/uas.log" 2>/dev/null; do sleep 0.05; done
  start=$(date +%s.%N)
  taskset -c 1 sipp -sf "$SF" "127.0.0.1:$p" -i 127.0.0.1 -p "$(port)" -nostdin \
    -m "$n" -r "$r" -l $((r * 5)) -timeout $((DURATION * 3))s -timeout_error >"$out" 2>&1 || true
  end=$(date +%s.%N)
  exec 3>&-
  wait "$uas" || true
  summary=$(grep '"summary"' "$dir/uas.log" || true)
  rm -rf "$dir"
  ok=$(grep -E '^ +Successful call' "$out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  bad=$(grep -E '^ +Failed call' "$out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  got=$(python3 -c "print(round(${ok:-0}/($end-$start)))")
  cnt=$(echo "$summary" | python3 -c 'import json,sys; l=sys.stdin.read().strip(); print(json.loads(l)["counts"].get("OPTIONS",0) if l else "-")')
  printf '%8s %10s %10s %8s %10s\n' "$r" "$got" "${ok:-0}" "${bad:-0}" "$cnt"
  rm -f "$out"
done
