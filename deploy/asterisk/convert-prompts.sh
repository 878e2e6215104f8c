#!/usr/bin/env bash
# Converts the hotline's prompts (prompts/zh-CN/*.wav, 8 kHz mono 16-bit) into sound files
# Asterisk plays without transcoding, one per format:
#   <name>.ulaw (G.711 mu-law), <name>.alaw (G.711 A-law), <name>.sln (8 kHz signed linear)
# into OUT (default ./asterisk-sounds/hotline). Copy that directory to the Asterisk host as
#   /var/lib/asterisk/sounds/zh/hotline/
# The file names are the prompt files' stems: prompt `welcome` (zh-CN/welcome.wav) is played
# as `STREAM FILE hotline/welcome` (the `[agi] prompt_prefix`).
#
#   deploy/asterisk/convert-prompts.sh [OUT]
#
# Needs sox (Debian package `sox`).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$REPO/prompts/zh-CN"
OUT="${1:-asterisk-sounds/hotline}"
command -v sox >/dev/null || { echo "convert-prompts.sh: sox is missing (apt-get install sox)" >&2; exit 2; }
mkdir -p "$OUT"
n=0
for wav in "$SRC"/*.wav; do
  stem="$(basename "$wav" .wav)"
  sox "$wav" -r 8000 -c 1 -t ul "$OUT/$stem.ulaw"
  sox "$wav" -r 8000 -c 1 -t al "$OUT/$stem.alaw"
  sox "$wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw "$OUT/$stem.sln"
  n=$((n + 1))
done
echo "converted $n prompts into $OUT (.ulaw .alaw .sln); copy it to /var/lib/asterisk/sounds/zh/hotline/"
