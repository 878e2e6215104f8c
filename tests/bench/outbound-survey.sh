#!/usr/bin/env bash
# Benchmark: automated outbound survey calls (issue 16 part 5, "Performance": >= 200 concurrent
# outbound survey calls with 0 missed keys, sipp UAS as the customers).
#
# 1. The release `hotline serve` (SQLite in a temp dir, embedded 112 simulator, real prompts)
#    runs without [outbound]; N tickets are created, dispatched and cleared (回单) with the CLI,
#    so N surveys are due at once.
# 2. It is restarted with [outbound] pointing at a sipp UAS on loopback that plays the trunk and
#    every customer: a 401 digest challenge (checked by sipp's verifyauth), 200 OK, HOLD ms of
#    listening to the real survey prompt, then the key 1 as RFC 4733 packets, then our BYE.
#    max_concurrent = N, so every call is claimed and placed at once.
# 3. Afterwards the database is read: a missed key is a ticket without exactly one
#    `ivr-outbound` survey result 满意 (satisfied). Reported: peak concurrent calls (sipp's
#    CurrentCall in its stat file), sipp's failed calls, the server's CPU seconds while the calls
#    ran, missed keys.
#
# Baseline in the same run: sipp's built-in UAC against sipp's built-in UAS with N concurrent
# calls of the same length (signalling only) — what the machine does with no hotline at all.
#
#   tests/bench/outbound-survey.sh
#
# Environment: N (default 200), HOLD (ms before the key, default 6000), SKIP_BUILD=1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
N="${N:-200}"
HOLD="${HOLD:-6000}"
TMP="$(mktemp -d)"
SERVER_PID=""
UAS_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null
  [[ -n "$UAS_PID" ]] && kill "$UAS_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p hotline >&2
fi
BIN="$REPO/target/release"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
TCK="$(getconf CLK_TCK)"

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD); N=$N HOLD=${HOLD}ms"

# --- baseline: sipp uac -> sipp uas, N concurrent calls of HOLD + 2 s ---------------------------
BP="$(free_port)"
sipp -sn uas -i 127.0.0.1 -p "$BP" -mp "$(free_port)" -nostdin >"$TMP/base-uas.log" 2>&1 &
BASE_UAS=$!
sleep 0.5
t0=$(date +%s.%N)
sipp -sn uac "127.0.0.1:$BP" -i 127.0.0.1 -p "$(free_port)" -mp "$(free_port)" \
  -r "$N" -l "$N" -m "$N" -d "$((HOLD + 2000))" -nostdin -timeout 120s >"$TMP/base-uac.out" 2>&1 || true
t1=$(date +%s.%N)
kill "$BASE_UAS" 2>/dev/null || true
ok="$(grep -a 'Successful call' "$TMP/base-uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
failed="$(grep -a 'Failed call' "$TMP/base-uac.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
echo "{\"baseline\":\"sipp uac -> sipp uas, $N concurrent\",\"ok\":${ok:-0},\"failed\":${failed:-0},\"wall_s\":$(echo "$t1 - $t0" | bc)}"

# --- the hotline: N cleared tickets -------------------------------------------------------------
GRPC="$(free_port)"; HTTP="$(free_port)"; SIP="$(free_port)"; TRUNK="$(free_port)"
cat >"$TMP/base.toml" <<EOF
[surveys]
calling_from = "00:00"
calling_until = "24:00"
EOF
serve() {
  "$BIN/hotline" serve --config "$1" --data-dir "$TMP/var" --grpc-listen "127.0.0.1:$GRPC" \
    --http-listen "127.0.0.1:$HTTP" --sip-listen "127.0.0.1:$SIP" --rtp-ports 20000-39998 \
    --admin-password bench-admin-1 --no-agi >>"$TMP/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "serve did not start:" >&2; tail -20 "$TMP/serve.log" >&2; exit 1
}
serve "$TMP/base.toml"
export HOTLINE_SERVER="http://127.0.0.1:$GRPC"
HOTLINE_TOKEN="$("$BIN/hotline" login --agent-id admin --password bench-admin-1)"
export HOTLINE_TOKEN
for i in $(seq "$N"); do
  num="$(printf '0106%07d' "$i")"
  contact="$(printf '138%08d' "$i")"
  id="$("$BIN/hotline" ticket create --number "$num" --contact "$contact" --fault noise \
        --description 电话有杂音 | awk '/^工单/ && !n {print $2; n = 1}')"
  "$BIN/hotline" ticket act "$id" dispatch --text 派修 >/dev/null
  "$BIN/hotline" ticket act "$id" clear --text 已修复 >/dev/null
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
echo "# $N tickets cleared" >&2

# --- the customers: sipp UAS behind a digest-checking trunk -------------------------------------
python3 - "$TMP/key1.pcap" <<'PY'
# one RFC 4733 key '1' from sipp's own capture, renumbered like a phone would send it
import struct, sys
src = open('/usr/share/sip-tester/dtmf_2833_1.pcap', 'rb').read()
out = bytearray(src[:24]); off = 24; seq = 1000; t = 0; end_seq = None
while off + 16 <= len(src):
    incl = struct.unpack('<I', src[off + 8:off + 12])[0]
    f = bytearray(src[off + 16:off + 16 + incl]); off += 16 + incl
    ihl = (f[14] & 0x0F) * 4; rtp = 14 + ihl + 8
    end = f[rtp + 13] & 0x80 != 0
    s = end_seq if (end and end_seq is not None) else seq
    if not (end and end_seq is not None):
        seq += 1
        if end: end_seq = s
    f[rtp + 2:rtp + 4] = struct.pack('>H', s)
    out += struct.pack('<IIII', t // 1000000, t % 1000000, len(f), len(f)) + f
    if not end: t += 20000
open(sys.argv[1], 'wb').write(out)
PY
cat >"$TMP/uas.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="trunk and customers">
  <recv request="INVITE"/>
  <send><![CDATA[

      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="trunk.bench", nonce="[call_number]a1b2c3", algorithm=MD5, qop="auth"
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action><verifyauth assign_to="authvalid" username="bench" password="bench-trunk-pw"/></action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send next="bad"><![CDATA[

      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <label id="good"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=customer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

  ]]></send>
  <recv request="ACK"/>
  <pause milliseconds="$HOLD"/>
  <nop><action><exec play_pcap_audio="$TMP/key1.pcap"/></action></nop>
  <recv request="BYE" timeout="30000"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <label id="bad"/>
</scenario>
EOF
sipp -sf "$TMP/uas.xml" -i 127.0.0.1 -p "$TRUNK" -mp "$(free_port)" -m "$N" -nostdin \
  -trace_stat -stf "$TMP/uas-stat.csv" -fd 1 -trace_err -error_file "$TMP/uas-err.log" \
  -timeout 180s >"$TMP/uas.out" 2>&1 &
UAS_PID=$!
sleep 0.5

cat >"$TMP/outbound.toml" <<EOF
[surveys]
calling_from = "00:00"
calling_until = "24:00"

[outbound]
trunk = "127.0.0.1:$TRUNK"
domain = "trunk.bench"
username = "bench"
password = "bench-trunk-pw"
max_concurrent = $N
idle_poll_secs = 1
EOF
serve "$TMP/outbound.toml"
c0="$(cpu_ticks "$SERVER_PID")"; t0=$(date +%s.%N)
wait "$UAS_PID" || true
UAS_PID=""
t1=$(date +%s.%N); c1="$(cpu_ticks "$SERVER_PID")"
sleep 2   # the last reports reach the core
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

DB="$TMP/var/hotline.db"
[[ -f "$DB" ]] || DB="$(ls "$TMP"/var/*.db | head -1)"
answered="$(sqlite3 "$DB" "SELECT COUNT(DISTINCT ticket_id) FROM survey_results WHERE channel = 'ivr-outbound' AND satisfaction = 'satisfied'")"
calls="$(sqlite3 "$DB" "SELECT COUNT(*) FROM outbound_calls")"
results="$(sqlite3 "$DB" "SELECT COALESCE(result, 'open') || '=' || COUNT(*) FROM outbound_calls GROUP BY result" | paste -sd, -)"
peak="$(awk -F';' 'NR==1 {for (i = 1; i <= NF; i++) if ($i == "CurrentCall") c = i; next} c && $c > m {m = $c} END {print m + 0}' "$TMP/uas-stat.csv")"
ok="$(grep -a 'Successful call' "$TMP/uas.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
failed="$(grep -a 'Failed call' "$TMP/uas.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')"
cpu_s="$(echo "scale=2; ($c1 - $c0) / $TCK" | bc)"
wall_s="$(echo "scale=2; $t1 - $t0" | bc)"
echo "{\"run\":\"hotline outbound\",\"calls\":$N,\"placed\":$calls,\"peak_concurrent\":$peak,\"sipp_ok\":${ok:-0},\"sipp_failed\":${failed:-0},\"answered_1\":$answered,\"missed_keys\":$((N - answered)),\"results\":\"$results\",\"server_cpu_s\":$cpu_s,\"wall_s\":$wall_s,\"cpu_pct\":$(echo "scale=1; 100 * $cpu_s / $wall_s" | bc)}"
if [[ -s "$TMP/uas-err.log" ]]; then
  echo "# sipp errors (first lines):" >&2; head -5 "$TMP/uas-err.log" >&2
fi
