#!/usr/bin/env bash
# A tour of ac-cfgtool on examples/sample-440hd.cfg: validate, delta against the 440HD
# defaults, merge, encrypt to .cfx and back, and an encrypted password value.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p ac-cfg --bin ac-cfgtool
tool=target/debug/ac-cfgtool
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "ac-cfgtool validate --model 440HD examples/sample-440hd.cfg"
$tool validate --model 440HD examples/sample-440hd.cfg

step "ac-cfgtool validate --model 430HD   (a file with mistakes)"
printf 'network/lan_type=STATIK\nvoip/codec/codec_info/7/name=G722\npersonal_settings/functional_key/19/type=SPEED_DIAL\n' > "$work/broken.cfg"
$tool validate --model 430HD "$work/broken.cfg" || echo "(exit code $?)"

step "ac-cfgtool defaults --model 440HD | wc -l"
$tool defaults --model 440HD | wc -l

step "ac-cfgtool delta --model 440HD   (modified fields only, manual 2.2.4)"
$tool defaults --model 440HD -o "$work/full.cfg"
$tool merge "$work/full.cfg" examples/sample-440hd.cfg --model 440HD -o "$work/full.cfg"
$tool delta "$work/full.cfg" --model 440HD

step "ac-cfgtool encrypt -f sample.cfg   (3DES .cfx, as openssl enc -des-ede3-cbc -nosalt -md md5)"
export AC_CFG_PASSPHRASE=demo-passphrase
cp examples/sample-440hd.cfg "$work/sample.cfg"
$tool encrypt -f "$work/sample.cfg"
step "openssl enc -d -des-ede3-cbc -nosalt -md md5 -pass env:AC_CFG_PASSPHRASE < sample.cfx | head -3"
openssl enc -d -des-ede3-cbc -nosalt -md md5 -pass env:AC_CFG_PASSPHRASE < "$work/sample.cfx" 2>/dev/null | head -3

step "ac-cfgtool encrypt -s 1234   (a password value, manual 3.4.2)"
$tool encrypt -s 1234
