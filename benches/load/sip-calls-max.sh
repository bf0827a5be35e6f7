#!/usr/bin/env bash
# Calls per second our call core completes as UAS (issue 6): a release `ac-sip-phone` answering
# every INVITE at once (180, 200 with the SDP answer; ACK; BYE from the caller), pinned to one
# core, and sipp (sip-tester) on the other core placing INVITE/200/ACK/BYE calls at increasing
# rates for a bounded time each (DURATION seconds, default 10). For each rate it prints the rate
# asked, the rate sipp achieved, successful and failed calls, and the calls our phone reported
# ended. With REFERENCE=baresip the same load goes to baresip (C, auto-answer, G.711, its
# audio from an 8 kHz tone file (aufile) and played into an aubridge device, no sound card)
# for comparison. Loopback only; every process stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
RATES=${RATES:-"200 500 1000 2000 3000"}
REFERENCE=${REFERENCE:-}
cargo build -q --release -p ac-sip --bin ac-sip-phone
PHONE=target/release/ac-sip-phone
SF=crates/ac-sip/tests/sipp/invite_bye.xml
port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
printf '%8s %10s %10s %8s %10s\n' asked achieved successful failed uas_ended
for r in $RATES; do
  n=$((r * DURATION))
  p=$(port)
  out=$(mktemp)
  dir=$(mktemp -d)
  if [ "$REFERENCE" = baresip ]; then
    printf 'poll_method epoll\nsip_listen 127.0.0.1:%s\naudio_player aubridge,null\naudio_source aufile,%s/tone.wav\naudio_alert aubridge,alert\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule account.so\nmodule menu.so\ncall_max_calls %s\n' "$p" "$dir" $((r * 5)) >"$dir/config"
    # baresip's aufile source needs the codec's rate: a 2 s 8 kHz tone, looped.
    python3 -c "import wave,math,struct,sys
w=wave.open(sys.argv[1],'wb');w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h',int(8000*math.sin(2*math.pi*440*i/8000))) for i in range(16000)))" "$dir/tone.wav"
    printf '<sip:phone@127.0.0.1>;regint=0;answermode=auto\n' >"$dir/accounts"
    HOME="$dir" timeout $((DURATION * 4 + 30)) taskset -c 0 baresip -f "$dir" >"$dir/uas.log" 2>&1 </dev/null &
    uas=$!
    until grep -q "ready" "$dir/uas.log" 2>/dev/null; do sleep 0.05; done
  else
    mkfifo "$dir/in"
    taskset -c 0 "$PHONE" --udp "127.0.0.1:$p" --aor "sip:phone@127.0.0.1:$p" --auto-answer-ms 0 \
      --duration $((DURATION * 4 + 30)) --stop-on-eof <"$dir/in" >"$dir/uas.log" &
    uas=$!
    exec 3>"$dir/in"
    until grep -q listening "$dir/uas.log" 2>/dev/null; do sleep 0.05; done
  fi
  start=$(date +%s.%N)
  taskset -c 1 sipp -sf "$SF" "127.0.0.1:$p" -i 127.0.0.1 -p "$(port)" -nostdin \
    -m "$n" -r "$r" -l $((r * 5)) -timeout $((DURATION * 3))s -timeout_error >"$out" 2>&1 || true
  end=$(date +%s.%N)
  if [ "$REFERENCE" = baresip ]; then
    kill "$uas" 2>/dev/null || true
    wait "$uas" 2>/dev/null || true
    cnt=$(grep -c "session closed" "$dir/uas.log" || true)
  else
    exec 3>&-
    wait "$uas" || true
    cnt=$(grep -c '"event":"ended"' "$dir/uas.log" || true)
  fi
  rm -rf "$dir"
  ok=$(grep -E '^ +Successful call' "$out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  bad=$(grep -E '^ +Failed call' "$out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  got=$(python3 -c "print(round(${ok:-0}/($end-$start)))")
  printf '%8s %10s %10s %8s %10s\n' "$r" "$got" "${ok:-0}" "${bad:-0}" "$cnt"
  rm -f "$out"
done
