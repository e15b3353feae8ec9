#!/bin/bash
# SPDX-License-Identifier: MIT
# test/docs.sh: the manual page against the program, without root or network.
# vpngw.8 must format with no warning (groff -ww, and man -l when man-db is
# installed). Each command's options are taken from the binary itself, from
# `vpngw COMMAND --help` (one a line: "  --name VALUE  help" or "  -v, --name
# help"), and the commands from `vpngw --help`. Each option must be an item
# of its command's section of the page (.SH SETUP, ...), written as --help
# writes it, name and value, and be in that command's synopsis in `vpngw
# --help`. The other way: every flag the page names in a command's section,
# or in that command's synopsis, must be one the command's parser takes
# (`vpngw COMMAND FLAG --help` neither refuses FLAG nor runs anything),
# every long flag elsewhere in the page must be one of some command or of
# vpngw itself, and each example must pass the parser. Last, `make install`
# with DESTDIR and PREFIX puts the binary and the page in place with their
# modes, and `make uninstall` removes them.
# Usage: test/docs.sh [PAGE] (default vpngw.8; the install uses vpngw.8).
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
page=${1:-vpngw.8}
VPNGW=${VPNGW:-./vpngw}
PASSED=0 FAILED=0
ok() { echo "PASS $1${2:+: $2}"; PASSED=$((PASSED + 1)); }
bad() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
# check NAME WRONG...: passes when nothing is wrong, else names what is.
check() {
	local name=$1
	shift
	if [ $# = 0 ]; then ok "$name"; else bad "$name" "$(printf '%s; ' "$@")"; fi
}
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit
}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ ! -x "$VPNGW" ] || [ ! -r "$page" ]; then
	bad docs "no executable $VPNGW (run make) or no $page"
	finish
fi

# ---- Formatting ----

if ! command -v groff >/dev/null; then
	bad man_groff "no groff (apt-get install groff-base)"
elif ! err=$(groff -ww -man -Tutf8 "$page" 2>&1 >"$dir/page.txt"); then
	bad man_groff "groff failed: $(head -n 3 <<<"$err" | tr '\n' ' ')"
elif [ -n "$err" ]; then
	bad man_groff "warnings: $(head -n 3 <<<"$err" | tr '\n' ' ')"
elif ! grep -q . "$dir/page.txt"; then
	bad man_groff "nothing rendered"
else
	ok man_groff
fi
if ! command -v man >/dev/null; then
	echo "step man -l: no man (apt-get install man-db)"
elif ! err=$(LC_ALL=C MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings=w -l "$page" \
	     2>&1 >"$dir/man.txt"); then
	bad man_l "man -l failed: $(head -n 3 <<<"$err" | tr '\n' ' ')"
elif [ -n "$err" ]; then
	bad man_l "warnings: $(head -n 3 <<<"$err" | tr '\n' ' ')"
elif ! grep -q '^NAME' "$dir/man.txt"; then
	bad man_l "no NAME section in what man -l printed"
else
	ok man_l
fi

# ---- The page as text ----

# The page's lines as "KIND<TAB>SECTION<TAB>TEXT": KIND is T for an item's
# tag (the line after .TP or .TQ), L for any other line. Macro lines keep
# their arguments (the alternating-font macros' joined without spaces),
# font escapes go, \- is -, \e is \. Comments and requests without text
# give nothing.
awk '
function args(s,   out, i, c, q, n, a) {
	n = 0; a = ""; q = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\"") { q = !q; continue }
		if ((c == " " || c == "\t") && !q) { if (a != "") { argv[++n] = a; a = "" } continue }
		a = a c
	}
	if (a != "") argv[++n] = a
	return n
}
/^\.\\"/ { next }
{ sub(/\\".*$/, "") }
/^\.SH/ { sec = $0; sub(/^\.SH[ \t]*/, "", sec); gsub(/"/, "", sec); tag = 0; next }
/^\.(TP|TQ)([ \t]|$)/ { tag = 1; next }
{
	line = $0
	if (line ~ /^[.\047]/) {
		m = line; sub(/[ \t].*$/, "", m); sub(/^[.\047]/, "", m)
		rest = line; if (!sub(/^[^ \t]+[ \t]+/, "", rest)) rest = ""
		n = args(rest)
		sep = (m ~ /^(BR|BI|IB|IR|RB|RI)$/) ? "" : " "
		line = ""
		if (m ~ /^(B|I|SM|SB|BR|BI|IB|IR|RB|RI)$/)
			for (i = 1; i <= n; i++) line = line (i > 1 ? sep : "") argv[i]
		if (line == "") { tag = 0; next }
	}
	print (tag ? "T" : "L") "\t" sec "\t" line
	tag = 0
}' "$page" | sed -e 's/\\f[BIRP]//g; s/\\f([A-Z][A-Z]//g; s/\\f\[[^]]*\]//g' \
	-e 's/\\-/-/g; s/\\&//g; s/\\%//g; s/\\e/\\/g' >"$dir/lines"

# section NAME: the text of section NAME; tags NAME: its items' tags.
section() { awk -F'\t' -v s="$1" '$2 == s { print $3 }' "$dir/lines"; }
tags() { awk -F'\t' -v s="$1" '$1 == "T" && $2 == s { print $3 }' "$dir/lines"; }
# flags: the options named in stdin (--long and -s); long_flags: --long only.
flags() { grep -oE -- '(^|[^A-Za-z0-9_-])--?[a-z][a-z0-9-]*' | sed -E 's/^[^-]//' | sort -u; }
long_flags() { grep -oE -- '(^|[^A-Za-z0-9_-])--[a-z][a-z0-9-]*' | sed -E 's/^[^-]//' | sort -u; }
# takes CMD FLAG: CMD's parser accepts FLAG. With --help after it, the
# command stops at the parser: help printed (a flag without value), or
# "needs a value"; an unknown flag, another command's and one not supported
# yet are refused.
takes() {
	local out rc
	out=$("$VPNGW" "$1" "$2" --help 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 0 ] || grep -q "needs a value" <<<"$out"
}
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }

help=$("$VPNGW" --help)
mapfile -t cmds < <(awk '/^vpngw [a-z]+ / { print $2 }' <<<"$help")
# The lines of vpngw --help that are about every command.
generic=$(grep 'vpngw COMMAND' <<<"$help")
[ ${#cmds[@]} -gt 0 ] || bad commands "vpngw --help names no command"

# ---- Each command: the parser, the page, vpngw --help ----

for cmd in "${cmds[@]}"; do
	# The options as --help lists them: "--pool N", "-v, --verbose".
	opts=$("$VPNGW" "$cmd" --help | sed -n 's/^  \(-[^ ].*\)$/\1/p' | sed 's/   *.*//')
	if [ -z "$opts" ]; then
		bad "options_$cmd" "vpngw $cmd --help lists no option"
		continue
	fi
	names=$(grep -oE -- '(^|, )--?[a-z][a-z0-9-]*' <<<"$opts" | sed 's/^, //' | sort -u)
	sec=$(upper "$cmd")
	mtags=$(tags "$sec")
	syn=$(awk -v c="$cmd" '/^vpngw / { on = $2 == c } on' <<<"$help")
	syn_flags=$(printf '%s\n%s\n' "$syn" "$generic" | flags)

	# Every option is an item of the command's section, as --help writes it.
	wrong=()
	[ -n "$mtags" ] || wrong+=("no section $sec with items in $page")
	while IFS= read -r o; do
		grep -qxF -- "$o" <<<"$mtags" || wrong+=("no item '$o'")
	done <<<"$opts"
	check "man_${cmd}_has_every_option" "${wrong[@]}"

	# Every flag the section names is one of the command's.
	wrong=()
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		takes "$cmd" "$f" || wrong+=("$f: $("$VPNGW" "$cmd" "$f" --help 2>&1 >/dev/null | head -n 1)")
	done < <(section "$sec" | flags)
	check "man_${cmd}_flags_accepted" "${wrong[@]}"

	# vpngw --help: every option in the command's synopsis (its short name
	# or its long one, with the value), and nothing else there.
	wrong=()
	while IFS= read -r o; do
		short=$(grep -oE '^-[a-z],' <<<"$o" | tr -d ,)
		long=$(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$o")
		value=${o#*"$long"}
		if [ -n "$short" ] && grep -qxF -- "$short" <<<"$syn_flags"; then
			continue
		elif ! grep -qxF -- "$long" <<<"$syn_flags"; then
			wrong+=("'$o' not in the synopsis")
		elif [ -n "$value" ] && ! grep -qF -- "$long$value" <<<"$syn"; then
			wrong+=("'$o': the synopsis gives another value")
		fi
	done <<<"$opts"
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		grep -qxF -- "$f" <<<"$names" && takes "$cmd" "$f" || wrong+=("$f is not an option of $cmd")
	done <<<"$syn_flags"
	check "help_${cmd}_synopsis" "${wrong[@]}"
done

# ---- The rest of the page ----

# The commands are in the synopsis, each with its section.
wrong=()
for cmd in "${cmds[@]}"; do
	section SYNOPSIS | grep -q "^vpngw $cmd\b" || wrong+=("vpngw $cmd not in SYNOPSIS")
	grep -qxP "L\t$(upper "$cmd")\t.*" "$dir/lines" || wrong+=("no section $(upper "$cmd")")
done
while read -r _ w _; do
	case $w in -*) "$VPNGW" "$w" >/dev/null 2>&1 || wrong+=("vpngw $w fails") ;;
	*) printf '%s\n' "${cmds[@]}" | grep -qxF -- "$w" || wrong+=("no command $w") ;;
	esac
done < <(section SYNOPSIS | grep '^vpngw ')
check man_synopsis "${wrong[@]}"

# Outside the commands' sections, each long flag is some command's or
# vpngw's own (--help, --version).
wrong=()
own=$(printf '%s\n' "${cmds[@]}" | while read -r c; do upper "$c"; done)
while IFS= read -r f; do
	[ -n "$f" ] || continue
	"$VPNGW" "$f" >/dev/null 2>&1 && continue
	any=
	for cmd in "${cmds[@]}"; do takes "$cmd" "$f" && any=1 && break; done
	[ -n "$any" ] || wrong+=("$f is no command's option")
done < <(awk -F'\t' -v own="$own" 'BEGIN { split(own, o, "\n"); for (i in o) c[o[i]] = 1 }
	!($2 in c) { print $3 }' "$dir/lines" | long_flags)
check man_other_flags_known "${wrong[@]}"

# Each example (continued lines joined) passes its command's parser: with
# --help at the end, values are checked and nothing runs.
wrong=()
n=0
while IFS= read -r ex; do
	read -ra argv <<<"$ex"
	n=$((n + 1))
	out=$("$VPNGW" "${argv[@]:1}" --help 2>&1 >/dev/null) || wrong+=("'$ex': ${out:-fails}")
done < <(section EXAMPLES | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' | grep '^vpngw ')
[ "$n" -gt 0 ] || wrong+=("no example")
check man_examples "${wrong[@]}"

# ---- make install, make uninstall ----

root=$dir/root
wrong=()
make -s vpngw >/dev/null 2>&1 || wrong+=("make vpngw failed")
out=$(make install DESTDIR="$root" PREFIX=/usr 2>&1) || wrong+=("make install failed: $out")
built=$(grep -E '^  (CC|LD) ' <<<"$out" | tr -s ' \n' ' ')
[ -z "$built" ] || wrong+=("make install rebuilt:$built")
bin=$root/usr/bin/vpngw man8=$root/usr/share/man/man8/vpngw.8
[ "$(stat -c %a "$bin" 2>/dev/null)" = 755 ] && cmp -s "$bin" vpngw ||
	wrong+=("no $bin of mode 755, the built vpngw ($(stat -c %a "$bin" 2>&1))")
[ "$(stat -c %a "$man8" 2>/dev/null)" = 644 ] && cmp -s "$man8" vpngw.8 ||
	wrong+=("no $man8 of mode 644, vpngw.8 ($(stat -c %a "$man8" 2>&1))")
files=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
[ "$files" = "./usr/bin/vpngw ./usr/share/man/man8/vpngw.8 " ] || wrong+=("installed: $files")
out=$(make uninstall DESTDIR="$root" PREFIX=/usr 2>&1) || wrong+=("make uninstall failed: $out")
files=$(cd "$root" && find . -type f | tr '\n' ' ')
[ -z "$files" ] || wrong+=("left after uninstall: $files")
check make_install "${wrong[@]}"

wrong=()
make -s install DESTDIR="$dir/default" >/dev/null 2>&1 || wrong+=("make install failed")
for f in bin/vpngw share/man/man8/vpngw.8; do
	[ -f "$dir/default/usr/local/$f" ] || wrong+=("no /usr/local/$f")
done
make -s uninstall DESTDIR="$dir/default" >/dev/null 2>&1 || wrong+=("make uninstall failed")
check make_install_prefix_default "${wrong[@]}"

finish
