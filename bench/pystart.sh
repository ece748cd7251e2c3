#!/bin/sh
# bench/pystart.sh PYTHON N: start N `PYTHON -S -c pass` at once and wait for all: the
# floor bench/many's N contexts are measured against (bench/fleet.sh).
py=$1
n=${2:-100}
i=0
while [ $i -lt "$n" ]; do
	"$py" -S -c pass &
	i=$((i + 1))
done
wait
