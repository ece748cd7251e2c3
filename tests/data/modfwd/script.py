# A single-file program: econtext call CONTEXT ./script.py:main
import sys


def main(x=1):
    return [__name__, x * 2]


if __name__ == '__main__':
    sys.stderr.write('the main block must not run in a context\n')
    sys.exit(3)
