#!/usr/bin/env python3
"""Build core/payload_data.c from payload/*.py (runs at build time, Python >= 3.6).

    mkpayload.py --srcdir payload -o core/payload_data.c

* The remote core (CORE_SOURCES, concatenated in order, then LAZY_SOURCES as the text
  of one string that the context compiles when first needed) is stripped of comments and
  docstrings with line numbers preserved, re-indented to one space per level, and
  compressed as a raw deflate stream (wbits -15) ended with Z_SYNC_FLUSH, so that the
  master can append the per-context `_ec_main({...})` line as further deflate blocks.
* The first stage (payload/first_stage.py) is minified into the one-line `-c`
  argument: `exec("...")` of its compacted source. It must stay within 512 bytes and
  must not contain a single quote (an ssh transport wraps it in '...').
* The exec stage (payload/exec_stage.py), which the first stage runs from the stream,
  is stripped like the core and embedded as text: the master appends it, after a NUL
  and a line `A="<argv0>"`, to each context's stream.
* A codec's context side (--remote FILE --symbol NAME, for a codec plugin's
  ec_codec_ops.remote_source: plugins/pickle/pickle_remote.py) is stripped like the
  core, checked to compile, and written as one C string NAME.
* The loader (payload/loader.py), the re-executed interpreter's program, which takes
  the core from the stream's last part, is stripped like the core and embedded as
  text: each context's stream starts with it.

The functions are importable (tests/payload_selftest.py uses them). Output is
deterministic for a given zlib.
"""
import argparse
import io
import os
import sys
import tokenize
import zlib

CORE_SOURCES = ["econtext_core.py", "values.py"]
# Compiled by the context only when first needed (a channel opened, a transfer called):
# carried in the core as the text of one string, _LAZY_SOURCE (econtext_core.py _lazy).
LAZY_SOURCES = ["channels.py", "transfer.py"]
FIRST_STAGE = "first_stage.py"
EXEC_STAGE = "exec_stage.py"
LOADER = "loader.py"
FIRST_STAGE_MAX = 512
DEFLATE_MAX = 16384


class PayloadError(Exception):
    pass


def _tokens(source):
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def strip_source(source):
    """Drop comments and docstrings, keep every line where it was.

    A statement made only of string literals (a docstring, or any bare string
    statement) becomes `pass` followed by as many newlines as it spanned, so a body
    whose only statement was its docstring stays valid. Logical-line indentation is
    reduced to one space per level; continuation lines lose their leading blanks
    unless they start inside a multi-line string."""
    toks = _tokens(source)
    lines = source.splitlines(True)
    # edits: per row, a list of (col_start, col_end, replacement) on the original text
    edits = {}

    def edit(srow, scol, erow, ecol, text):
        if srow == erow:
            edits.setdefault(srow, []).append((scol, ecol, text))
        else:
            edits.setdefault(srow, []).append((scol, len(lines[srow - 1].rstrip("\r\n")), text))
            for r in range(srow + 1, erow):
                edits.setdefault(r, []).append((0, len(lines[r - 1].rstrip("\r\n")), ""))
            edits.setdefault(erow, []).append((0, ecol, ""))

    # 1. comments
    for t in toks:
        if t.type == tokenize.COMMENT:
            edit(t.start[0], t.start[1], t.end[0], t.end[1], "")
    # 2. string-only statements (docstrings)
    stmt_start = True
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                      tokenize.ENCODING):
            stmt_start = True
            i += 1
            continue
        if t.type in (tokenize.NL, tokenize.COMMENT):
            i += 1
            continue
        if stmt_start and t.type == tokenize.STRING:
            j = i
            while j < len(toks) and toks[j].type in (tokenize.STRING, tokenize.NL,
                                                     tokenize.COMMENT):
                j += 1
            if j < len(toks) and toks[j].type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                first, last = toks[i], toks[j - 1]
                while last.type != tokenize.STRING:
                    j -= 1
                    last = toks[j - 1]
                edit(first.start[0], first.start[1], last.end[0], last.end[1], "pass")
                i = j
                stmt_start = False
                continue
        stmt_start = False
        i += 1

    out = []
    for row, line in enumerate(lines, 1):
        body = line.rstrip("\r\n")
        for scol, ecol, text in sorted(edits.get(row, ()), reverse=True):
            body = body[:scol] + text + body[ecol:]
        out.append(body.rstrip())
    text = "\n".join(out) + "\n"
    return _reindent(text)


def _reindent(source):
    toks = _tokens(source)
    lines = source.splitlines(True)
    depth = 0
    logical_start = {}      # row -> depth for rows starting a logical line
    in_string = set()       # rows that begin inside a multi-line string
    new_logical = True
    for t in toks:
        if t.type == tokenize.INDENT:
            depth += 1
            continue
        if t.type == tokenize.DEDENT:
            depth -= 1
            continue
        if t.type in (tokenize.NEWLINE,):
            new_logical = True
            continue
        if t.type in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER,
                      tokenize.ENCODING):
            continue
        if new_logical:
            logical_start[t.start[0]] = depth
            new_logical = False
        if t.type == tokenize.STRING and t.end[0] > t.start[0]:
            in_string.update(range(t.start[0] + 1, t.end[0] + 1))
    out = []
    for row, line in enumerate(lines, 1):
        if row in in_string:
            out.append(line)
        elif row in logical_start:
            out.append(" " * logical_start[row] + line.lstrip(" \t"))
        else:
            out.append(line.lstrip(" \t") if line.strip() else "\n")
    return "".join(out)


def _stripped(srcdir, name):
    with open(os.path.join(srcdir, name), encoding="ascii") as f:
        src = f.read()
    stripped = strip_source(src)
    if stripped.count("\n") != src.count("\n") + (0 if src.endswith("\n") else 1):
        raise PayloadError("%s: stripping changed the line count" % name)
    compile(stripped, name, "exec")
    return stripped


def core_source(srcdir):
    """The static part of the remote core: stripped sources, ending in a newline, then
    the line `_LAZY_SOURCE = '...'`: the stripped LAZY_SOURCES as one string (a
    string costs the parser a scan, code costs it a compile)."""
    lazy = "".join(_stripped(srcdir, name) for name in LAZY_SOURCES)
    return "".join(_stripped(srcdir, name) for name in CORE_SOURCES) + \
        "_LAZY_SOURCE = %r\n" % lazy


def exec_stage(srcdir):
    """The exec stage, stripped; the master prefixes the line A="<argv0>"."""
    stripped = _stripped(srcdir, EXEC_STAGE)
    if "\0" in stripped:
        raise PayloadError("%s contains a NUL" % EXEC_STAGE)
    return stripped


def loader(srcdir):
    """The loader, stripped; the master appends the line `_ec_main({...})`."""
    stripped = _stripped(srcdir, LOADER)
    if "\0" in stripped:
        raise PayloadError("%s contains a NUL" % LOADER)
    return stripped


def remote_source(path):
    """A codec's context side, stripped like the core (line numbers kept)."""
    stripped = _stripped(os.path.dirname(path) or ".", os.path.basename(path))
    if "\0" in stripped:
        raise PayloadError("%s contains a NUL" % path)
    return stripped


def render_remote_c(path, symbol, source):
    return ("/* Generated by build-aux/mkpayload.py from %s: a codec's context side\n"
            " * (ec_codec_ops.remote_source), stripped. Do not edit. */\n"
            "extern const char %s[];\n"
            "const char %s[] =\n\t%s;\n" % (path, symbol, symbol, _c_string(source)))


def compress_core(source):
    """Raw deflate of the static source, ended with Z_SYNC_FLUSH (not Z_FINISH)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(source.encode("ascii")) + c.flush(zlib.Z_SYNC_FLUSH)


def _minify(source):
    """Token-level minification of a small program: no comments, no blank lines,
    one space per indentation level, spaces only where two words would merge."""
    out = []
    line = []
    depth = 0
    prev = None
    for t in _tokens(source):
        if t.type == tokenize.INDENT:
            depth += 1
            continue
        if t.type == tokenize.DEDENT:
            depth -= 1
            continue
        if t.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING):
            continue
        if t.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if line:
                out.append(" " * depth + "".join(line))
            line = []
            prev = None
            continue
        s = t.string
        if prev is not None and (prev[-1].isalnum() or prev[-1] == "_") and \
                (s[0].isalnum() or s[0] in "_\"'"):
            line.append(" ")
        line.append(s)
        prev = s
    return "\n".join(_collapse(out))


def _collapse(lines):
    """Join simple statements of one block with ';' and put a block made only of
    simple statements on its header's line."""
    def depth(line):
        return len(line) - len(line.lstrip(" "))

    def block(i, d):
        # parse statements at depth d starting at i -> (list of (header, body|None), i)
        stmts = []
        while i < len(lines) and depth(lines[i]) == d:
            text = lines[i].strip()
            i += 1
            if i < len(lines) and depth(lines[i]) > d:
                body, i = block(i, depth(lines[i]))
                stmts.append((text, body))
            else:
                stmts.append((text, None))
        return stmts, i

    def render(stmts, d):
        out = []
        prev_simple = False
        for text, body in stmts:
            if body is None:
                if prev_simple:
                    out[-1] = (out[-1][0] + ";" + text, True)
                else:
                    out.append((" " * d + text, True))
                prev_simple = True
                continue
            prev_simple = False
            inner = render(body, d + 1)
            if len(inner) == 1 and inner[0][1]:
                out.append((" " * d + text + inner[0][0].lstrip(" "), False))
            else:
                out.append((" " * d + text, False))
                out.extend(inner)
        return out

    stmts, _ = block(0, 0)
    return [line for line, _ in render(stmts, 0)]


def _is_compound(line):
    word = line.lstrip(" ").split(" ")[0].split(":")[0].split("(")[0]
    return word in ("def", "if", "while", "for", "try", "with", "class", "else",
                    "elif", "except", "finally")


def first_stage_arg(srcdir):
    """The `-c` argument: one line, no single quote, at most FIRST_STAGE_MAX bytes."""
    with open(os.path.join(srcdir, FIRST_STAGE), encoding="ascii") as f:
        src = f.read()
    code = _minify(src)
    compile(code, FIRST_STAGE, "exec")
    # Top-level simple statements run as themselves, joined by ';'. Each compound
    # statement (a line followed by an indented block) travels as exec("...") so
    # that the whole argument is one line.
    groups = []
    for line in code.split("\n"):
        if line.startswith(" "):
            groups[-1].append(line)
        else:
            groups.append([line])
    stmts = []
    for g in groups:
        if len(g) == 1 and not _is_compound(g[0]):
            stmts.append(g[0])
        else:
            body = "\n".join(g)
            stmts.append("exec(\"" + body.replace("\\", "\\\\").replace('"', '\\"')
                         .replace("\n", "\\n") + "\")")
    arg = ";".join(stmts)
    if "'" in arg:
        raise PayloadError("first stage contains a single quote; the ssh transport "
                           "wraps it in '...'")
    if "\n" in arg or "\r" in arg:
        raise PayloadError("first stage is not one line")
    if len(arg.encode("ascii")) > FIRST_STAGE_MAX:
        raise PayloadError("first stage is %d bytes, the limit is %d: shorten %s"
                           % (len(arg), FIRST_STAGE_MAX, os.path.join(srcdir, FIRST_STAGE)))
    compile(arg, "-c", "exec")
    return arg


def _c_string(s):
    out = []
    for ch in s:
        if ch in "\\\"":
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")          # no trigraphs
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("\\%03o" % ord(ch))
    return '"' + "".join(out) + '"'


def render_c(first_stage, deflate, source_len, exec_src="", loader_src=""):
    o = []
    o.append("/* Generated by build-aux/mkpayload.py from payload/%s, payload/%s, "
             "payload/%s and payload/%s.\n"
             % (", payload/".join(CORE_SOURCES + LAZY_SOURCES), FIRST_STAGE, EXEC_STAGE, LOADER))
    o.append(" * Do not edit.\n *\n")
    o.append(" * first stage (-c argument): %d bytes\n" % len(first_stage))
    o.append(" * remote core: %d bytes of stripped source, %d bytes raw deflate "
             "(Z_SYNC_FLUSH)\n */\n" % (source_len, len(deflate)))
    o.append("#include <stddef.h>\n\n")
    o.append("extern const unsigned char ec__payload_deflate[];\n")
    o.append("extern const size_t ec__payload_deflate_len;\n")
    o.append("extern const size_t ec__payload_source_len;\n")
    o.append("extern const char ec__payload_first_stage[];\n")
    o.append("extern const char ec__payload_exec_stage[];\n")
    o.append("extern const char ec__payload_loader[];\n\n")
    o.append("const unsigned char ec__payload_deflate[] = {\n")
    for i in range(0, len(deflate), 12):
        o.append("\t" + " ".join("0x%02x," % b for b in deflate[i:i + 12]) + "\n")
    o.append("};\n")
    o.append("const size_t ec__payload_deflate_len = %d;\n" % len(deflate))
    o.append("const size_t ec__payload_source_len = %d;\n" % source_len)
    o.append("const char ec__payload_first_stage[] =\n\t%s;\n" % _c_string(first_stage))
    o.append("const char ec__payload_exec_stage[] =\n\t%s;\n" % _c_string(exec_src))
    o.append("const char ec__payload_loader[] =\n\t%s;\n" % _c_string(loader_src))
    return "".join(o)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcdir", default="payload")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--max-deflate", type=int, default=DEFLATE_MAX,
                    help="fail when the compressed core reaches this size (bytes)")
    ap.add_argument("--remote", metavar="FILE",
                    help="write a codec's context side as the C string --symbol instead")
    ap.add_argument("--symbol", default="remote_source")
    args = ap.parse_args(argv)
    if args.remote:
        try:
            text = render_remote_c(os.path.basename(args.remote), args.symbol,
                                   remote_source(args.remote))
        except (PayloadError, SyntaxError, OSError) as e:
            sys.stderr.write("mkpayload: error: %s\n" % e)
            return 1
        _write(args.output, text)
        return 0
    try:
        fs = first_stage_arg(args.srcdir)
        xs = exec_stage(args.srcdir)
        ld = loader(args.srcdir)
        src = core_source(args.srcdir)
        deflate = compress_core(src)
        if len(deflate) >= args.max_deflate:
            raise PayloadError("compressed core is %d bytes, the budget is %d"
                               % (len(deflate), args.max_deflate))
    except (PayloadError, SyntaxError, OSError) as e:
        sys.stderr.write("mkpayload: error: %s\n" % e)
        return 1
    _write(args.output, render_c(fs, deflate, len(src.encode("ascii")), xs, ld))
    return 0


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
