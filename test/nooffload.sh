#!/bin/sh
# SPDX-License-Identifier: MIT
# test/nooffload.sh: vpngw with --no-offload added to every serve and
# connect, for running an end-to-end suite with TUN offloads off
# (VPNGW=test/nooffload.sh test/client.sh). VPNGW_REAL is the binary
# (default ../vpngw). It execs it, so that the suite's PIDs are vpngw's.
real=${VPNGW_REAL:-$(dirname "$0")/../vpngw}
case ${1:-} in
serve|connect)
	cmd=$1
	shift
	exec "$real" "$cmd" --no-offload "$@" ;;
*)
	exec "$real" "$@" ;;
esac
