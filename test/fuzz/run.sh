#!/bin/bash
# SPDX-License-Identifier: MIT
# fuzz/run.sh SECONDS: builds every libFuzzer target here with clang (ASan +
# UBSan) and runs each for SECONDS on its corpus directory. A crash, leak or
# sanitizer report fails that target. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")"
secs=${1:-30}
mkdir -p bin
pass=0
fail=0
for src in fuzz_*.c; do
	name=${src%.c}
	extra=""
	[ "$name" = fuzz_tls ] && extra="-lbearssl -DVPNGW_TLS=1"
	if ! clang -g -O1 -std=c11 -D_GNU_SOURCE -I../.. -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o "bin/$name" "$src" $extra 2>"bin/$name.log"; then
		echo "FAIL $name: does not build"
		tail -n 5 "bin/$name.log"
		fail=$((fail + 1))
		continue
	fi
	# New inputs go to a scratch directory; seeds in corpus/NAME are read only.
	mkdir -p "corpus/$name" "bin/corpus-$name"
	if "bin/$name" -max_total_time="$secs" -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix=bin/ "bin/corpus-$name" "corpus/$name" >"bin/$name.log" 2>&1; then
		execs=$(grep -o 'number_of_executed_units: *[0-9]*' "bin/$name.log" | grep -o '[0-9]*$')
		echo "PASS $name (${secs}s, ${execs:-?} runs)"
		pass=$((pass + 1))
	else
		echo "FAIL $name:"
		grep -E 'ERROR|SUMMARY|runtime error' "bin/$name.log" | head -n 5
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
