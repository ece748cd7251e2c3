#!/bin/sh
# Generate configure and Makefile.in. Never runs configure.
set -e
cd "$(dirname "$0")"
autoreconf -fi
