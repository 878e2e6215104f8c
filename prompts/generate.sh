#!/usr/bin/env bash
# Regenerates the placeholder WAV prompts listed in prompts.toml (8 kHz mono 16-bit).
#
# Speech: espeak-ng -v cmn-latn-pinyin reads the `pinyin` value (tone numbers; plain `-v cmn`
# misreads many characters), then sox converts it to 8 kHz mono 16-bit signed PCM.
# Tones: sox synth with the `synth` value (e.g. the voicemail beep).
#
# Usage: prompts/generate.sh [ID...]   (no ID = every prompt; overwrites the WAVs, so a
# studio recording dropped in under the same id is replaced: pass ids to limit it).
# Needs: espeak-ng, sox (Debian: apt-get install -y espeak-ng sox).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
catalog="$here/prompts.toml"
speed="${ESPEAK_SPEED:-150}"

for tool in espeak-ng sox awk; do
    command -v "$tool" >/dev/null || { echo "generate.sh: $tool is not installed" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# One line per prompt: id <TAB> file <TAB> kind (pinyin|synth) <TAB> value.
awk '
    function flush() {
        if (id != "") {
            if (kind == "") { printf "generate.sh: prompt %s has neither pinyin nor synth\n", id > "/dev/stderr"; bad = 1 }
            print id "\t" file "\t" kind "\t" value
        }
        id = ""; file = ""; kind = ""; value = ""
    }
    function strval(line) { sub(/^[^=]*=[ \t]*"/, "", line); sub(/"[ \t]*$/, "", line); return line }
    /^\[\[prompt\]\]/ { flush(); next }
    /^id[ \t]*=/      { id = strval($0); next }
    /^file[ \t]*=/    { file = strval($0); next }
    /^pinyin[ \t]*=/  { kind = "pinyin"; value = strval($0); next }
    /^synth[ \t]*=/   { kind = "synth"; value = strval($0); next }
    END { flush(); exit bad }
' "$catalog" > "$tmp/list"

wanted=" $* "
count=0
while IFS=$'\t' read -r id file kind value; do
    if [ $# -gt 0 ] && [[ "$wanted" != *" $id "* ]]; then
        continue
    fi
    out="$here/$file"
    mkdir -p "$(dirname "$out")"
    case "$kind" in
        pinyin)
            espeak-ng -v cmn-latn-pinyin -s "$speed" -w "$tmp/raw.wav" "$value"
            # gain -n -3: normalise to -3 dBFS so resampling does not clip.
            sox -R "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out" gain -n -3
            ;;
        synth)
            # shellcheck disable=SC2086 # the value is sox effect arguments
            sox -R -n -r 8000 -c 1 -b 16 -e signed-integer "$out" synth $value
            ;;
    esac
    count=$((count + 1))
done < "$tmp/list"

echo "generate.sh: wrote $count prompt(s) under $here" >&2
