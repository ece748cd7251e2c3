#!/bin/sh
# Adds up the results in the test logs of a `make check` and prints the totals as the
# last line, "N passed, N failed, N skipped" (CI reads it).
# CUnit programs count their tests (the "tests" row of CUnit's Run Summary); shell
# tests print "RESULT: N passed, N failed, N skipped"; a program that crashed or timed
# out without a summary counts as one failure, a skipped program (exit 77) as one skip.
# Usage: summary.sh BUILDDIR
dir=${1:-.}
passed=0 failed=0 skipped=0
for trs in $(find "$dir/tests" -name '*.trs' | sort); do
	log=${trs%.trs}.log
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
	row=$(grep -E '^ +tests +[0-9]+' "$log" 2>/dev/null | tail -n 1)
	res=$(grep -E '^RESULT: [0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
	srow=$(grep -E '^ +suites +[0-9]+' "$log" 2>/dev/null | tail -n 1)
	if [ -n "$srow" ]; then
		# an inactive suite is a skipped interpreter
		set -- $srow
		skipped=$((skipped + $6))
	fi
	if [ -n "$row" ]; then
		# tests Total Ran Passed Failed Inactive
		set -- $row
		passed=$((passed + $4)) failed=$((failed + $5)) skipped=$((skipped + $6))
		if [ "$result" != PASS ] && [ "$result" != SKIP ] && [ "$5" = 0 ]; then
			failed=$((failed + 1))
		fi
	elif [ -n "$res" ]; then
		set -- $(echo "$res" | sed 's/[^0-9 ]//g')
		passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + ${3:-0}))
		if [ "$result" != PASS ] && [ "$result" != SKIP ] && [ "$2" = 0 ]; then
			failed=$((failed + 1))
		fi
	else
		case $result in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	fi
	printf '%-28s %s\n' "$(basename "${trs%.trs}")" "$result"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
