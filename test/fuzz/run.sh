#!/bin/bash
# SPDX-License-Identifier: MIT
# fuzz/run.sh SECONDS: builds every libFuzzer target here with clang (ASan +
# UBSan) and runs each for SECONDS on its corpus directory. A crash, leak or
# sanitizer report fails that target. The targets are built and run
# FUZZ_JOBS at a time (default: one per CPU, so each still has a core for
# its SECONDS); their lines are printed in order once all are done. Ends
# with "N passed, N failed".
set -u
cd "$(dirname "$0")"
secs=${1:-30}
njobs=${FUZZ_JOBS:-$(nproc)}
[ "$njobs" -ge 1 ] 2>/dev/null || njobs=1
mkdir -p bin

# target NAME: builds and runs NAME; prints its PASS or FAIL line (with what
# explains a failure) and returns non-zero on failure.
target() {
	local name=$1 extra="" execs
	[ "$name" = fuzz_tls ] && extra="-lbearssl -DVPNGW_TLS=1"
	if ! clang -g -O1 -std=c11 -D_GNU_SOURCE -I../.. -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o "bin/$name" "$name.c" $extra 2>"bin/$name.log"; then
		echo "FAIL $name: does not build"
		tail -n 5 "bin/$name.log"
		return 1
	fi
	# New inputs go to a scratch directory; seeds in corpus/NAME are read only.
	mkdir -p "corpus/$name" "bin/corpus-$name"
	if "bin/$name" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix=bin/ "bin/corpus-$name" "corpus/$name" >"bin/$name.log" 2>&1; then
		execs=$(grep -o 'number_of_executed_units: *[0-9]*' "bin/$name.log" | grep -o '[0-9]*$')
		echo "PASS $name (${secs}s, ${execs:-?} runs)"
	else
		echo "FAIL $name:"
		grep -E 'ERROR|SUMMARY|runtime error' "bin/$name.log" | head -n 5
		return 1
	fi
}

names=()
for src in fuzz_*.c; do
	name=${src%.c}
	names+=("$name")
	rm -f "bin/$name.out"
	while [ "$(jobs -rp | wc -l)" -ge "$njobs" ]; do
		wait -n
	done
	target "$name" >"bin/$name.out" 2>&1 &
done
wait

# A target counts as passed only by its own PASS line: one that died
# without printing it failed.
pass=0
fail=0
for name in "${names[@]}"; do
	if [ -s "bin/$name.out" ]; then
		cat "bin/$name.out"
	else
		echo "FAIL $name: no result"
	fi
	if head -n 1 "bin/$name.out" 2>/dev/null | grep -q "^PASS $name "; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
