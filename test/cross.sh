#!/bin/bash
# SPDX-License-Identifier: MIT
# test/cross.sh: vpngw for the CPUs of most home routers, built and tried on
# this machine: x86_64 natively (musl), then aarch64, arm (hard float),
# mipsel and mips (big-endian) with Debian 12's cross gccs (glibc, linked
# statically). For each target: the binary with TLS and without, each
# static and for the right machine and byte order as `file` sees it; each
# one's --version under qemu-user; and, for the cross targets, the unit
# tests (test/unit: the pure functions and the parsers) built with the same
# compiler and run under qemu with VPNGW_UNIT_EMULATED=1, so that the cases
# that time the code skip (x86_64's are the unit suite's).
# Each target builds in its own copies of the tracked files, one with TLS
# and one without, under .cross/build/ (kept: a second run rebuilds only
# what changed), all targets at once. BearSSL's source is fetched once (make
# .cross/bearssl/Makefile) and the library built once per target, into
# .cross/TRIPLE/, which every copy shares.
# Prints a PASS or FAIL line per target and check, and ends with "N passed,
# N failed" (", N skipped" when the unit tests skipped cases, each named
# with its reason); exits non-zero if any failed.
# `cross.sh size`: the same builds, then a table of each binary's size
# (stripped, static) and the x86_64 limits, met or not; it fails only when
# a build does. `cross.sh build`: the builds alone (the binaries and the
# unit tests), printing nothing but failures, so that a later run has only
# its checks left: test/run.sh starts it in the background at idle priority
# while the other suites run. `cross.sh [size|build] TARGET...`: only those
# (x86_64 or a triple).
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD

mode=test
case ${1:-} in size | build) mode=$1; shift ;; esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
	targets=(x86_64 aarch64-linux-gnu arm-linux-gnueabihf mipsel-linux-gnu mips-linux-gnu)

# What `file` must say of a target's binary, and the qemu that runs it.
machine() {
	case $1 in
	x86_64) echo '64-bit LSB .*x86-64' ;;
	aarch64-linux-gnu) echo '64-bit LSB .*ARM aarch64' ;;
	arm-linux-gnueabihf) echo '32-bit LSB .*ARM, EABI5' ;;
	mipsel-linux-gnu) echo '32-bit LSB .*MIPS' ;;
	mips-linux-gnu) echo '32-bit MSB .*MIPS' ;;
	esac
}
qemu() {
	case $1 in
	x86_64) ;;
	arm-*) echo qemu-arm ;;
	*) echo "qemu-${1%%-*}" ;;
	esac
}

# build T TLS: T's binary with TLS=1 or 0, in .cross/build/T/tlsN; prints
# one line, and "size BYTES" into that folder's result file.
build() {
	local t=$1 tls=$2 d=$top/.cross/build/$1/tls$2 what="build TLS=$2" s0=$SECONDS
	local cross=() info
	[ "$t" = x86_64 ] || cross=(CROSS_COMPILE="$t-")
	if ! { mkdir -p "$d" && ln -sfn "$top/.cross" "$d/.cross" &&
	       git ls-files -z | xargs -0 cp -p --parents -t "$d"; }; then
		echo "FAIL $t $what: could not copy the sources to $d"
		return 1
	fi
	if ! make -s -C "$d" "${cross[@]}" TLS="$tls" >"$d/log" 2>&1; then
		echo "FAIL $t $what: $(grep -v 'statically linked' "$d/log" | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
	info=$(file -b "$d/vpngw")
	if ! grep -q 'statically linked' <<<"$info" || ! grep -Eq "$(machine "$t")" <<<"$info"; then
		echo "FAIL $t $what: not static or not for $t: $info"
		return 1
	fi
	echo "size $(stat -c %s "$d/vpngw")" >"$d/result"
	echo "PASS $t $what: static, $(cut -d, -f1-2 <<<"$info" | sed 's/ELF //'), $(stat -c %s "$d/vpngw") bytes, $((SECONDS - s0)) s"
}

# version T TLS: the binary's --version, under qemu for a cross target.
version() {
	local t=$1 tls=$2 d=$top/.cross/build/$1/tls$2 out q
	q=$(qemu "$t")
	out=$($q "$d/vpngw" --version 2>&1)
	local rc=$? said=1
	grep -q '(no TLS)' <<<"$out" && said=0
	if [ "$rc" = 0 ] && grep -q '^vpngw ' <<<"$out" && [ "$said" = "$tls" ]; then
		echo "PASS $t version TLS=$tls: ${q:+$q: }$out"
	else
		echo "FAIL $t version TLS=$tls: ${q:+$q: }$out"
	fi
}

# unit_build T: test/unit built statically with T's gcc.
unit_build() {
	local t=$1 d=$top/.cross/build/$1/tls0
	make -s -C "$d" HOSTCC="$t-gcc -static" test/unit >"$d/unit.log" 2>&1 && return
	echo "FAIL $t unit: the build failed: $(tail -n 3 "$d/unit.log" | tr '\n' ' ')"
	return 1
}

# unit T: test/unit built statically with T's gcc, run under qemu.
unit() {
	local t=$1 d=$top/.cross/build/$1/tls0 q out line s0=$SECONDS
	q=$(qemu "$t")
	unit_build "$t" || return
	out=$(cd "$d" && VPNGW_UNIT_EMULATED=1 $q test/unit 2>&1)
	local rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
	grep '^SKIP ' <<<"$out" | sed "s/^SKIP /SKIP $t unit: /"
	if [ "$rc" = 0 ] && [ -n "$line" ]; then
		echo "PASS $t unit: $q: $line, $((SECONDS - s0)) s"
	else
		grep -E '^FAIL |CHECK' <<<"$out" | head -n 10 | sed 's/^/  /'
		echo "FAIL $t unit: $q: ${line:-no result line (exit $rc)}"
	fi
}

# target T: everything for T, in order; the lines into .cross/build/T.out.
target() {
	local t=$1 tls
	if [ "$t" != x86_64 ]; then
		command -v "$t-gcc" >/dev/null ||
			{ echo "FAIL $t: no $t-gcc (apt-get install gcc-$t, with its libc6-dev)"; return; }
		[ "$mode" != test ] || command -v "$(qemu "$t")" >/dev/null ||
			{ echo "FAIL $t: no $(qemu "$t") (apt-get install qemu-user)"; return; }
	fi
	for tls in 1 0; do
		build "$t" "$tls" && [ "$mode" = test ] && version "$t" "$tls"
	done
	[ "$t" = x86_64 ] && return
	case $mode in test) unit "$t" ;; build) unit_build "$t" ;; esac
}

for t in "${targets[@]}"; do
	[ -n "$(machine "$t")" ] || { echo "no target $t (${targets[*]})"; exit 1; }
done
if ! git ls-files --error-unmatch Makefile >/dev/null 2>&1; then
	echo "FAIL cross: not a git checkout (each target builds a copy of the tracked files)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkdir -p .cross/build
s0=$SECONDS
# The source once, before the targets build at once (a clear line if not).
if [ "${targets[*]}" != x86_64 ] && ! out=$(make -s .cross/bearssl/Makefile 2>&1); then
	echo "FAIL bearssl: $(head -n 1 <<<"$out")"
	failed_fetch=1
fi
for t in "${targets[@]}"; do
	rm -f ".cross/build/$t/tls"{0,1}/result
	target "$t" >".cross/build/$t.out" 2>&1 &
done
wait
if [ "$mode" = build ]; then
	cat ".cross/build/"*.out | grep '^FAIL '
	exit 0
fi
for t in "${targets[@]}"; do cat ".cross/build/$t.out"; done | tee .cross/build/all.out
echo "all targets in $((SECONDS - s0)) s"

if [ "$mode" = size ]; then
	printf '%-22s %10s %9s %10s %9s\n' target "TLS bytes" KiB "no TLS" KiB
	bad=0
	for t in "${targets[@]}"; do
		row=$t
		[ "$t" = x86_64 ] && row="x86_64 (musl)"
		printf '%-22s' "$row"
		for tls in 1 0; do
			r=.cross/build/$t/tls$tls/result
			if [ -r "$r" ]; then
				b=$(awk '/^size/ { print $2 }' "$r")
				printf ' %10d %9s' "$b" "$(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1024 }')"
			else
				printf ' %10s %9s' failed -
				bad=1
			fi
		done
		echo
	done
	for tls in 1 0; do
		r=.cross/build/x86_64/tls$tls/result
		[ -r "$r" ] || continue
		b=$(awk '/^size/ { print $2 }' "$r")
		lim=$((tls ? 256 : 128))
		if [ "$b" -le $((lim * 1024)) ]; then v=met; else v="NOT met"; fi
		echo "x86_64 limit $([ "$tls" = 1 ] && echo "with TLS" || echo "without TLS"): $lim KiB, $v ($b bytes)"
	done
	exit "$bad"
fi
p=$(grep -c '^PASS ' .cross/build/all.out)
f=$(($(grep -c '^FAIL ' .cross/build/all.out) + ${failed_fetch:-0}))
k=$(grep -c '^SKIP ' .cross/build/all.out)
line="$p passed, $f failed"
[ "$k" = 0 ] || line="$line, $k skipped"
echo "$line"
[ "$f" = 0 ]
