# transfer.py: file transfer, the context side (docs/protocol.md, "File transfer"),
# carried in the remote core as text, compiled with channels.py when first needed
# (econtext_core.py _lazy). The master calls econtext._stat, econtext._put and
# econtext._get by name; the file's bytes travel on a channel, so the window bounds
# both sides' memory. put writes to a temporary name beside the target and renames it
# over the target only once size and SHA-256 match what the master read: a reader never
# sees half a file, and an error or a cancel leaves the old file and no temporary one.

_XFER_CHUNK = 256 * 1024


def _xfer_error(e, path):
    """The same OSError, naming the target (not a temporary name)."""
    if isinstance(e, EnvironmentError) and e.errno:
        return OSError(e.errno, e.strerror or posix.strerror(e.errno), path)
    return e


def _digest_fd(fd):
    import hashlib
    h = hashlib.sha256()
    while True:
        block = posix.read(fd, 1 << 20)
        if not block:
            break
        h.update(block)
    return h.hexdigest()


def _xfer_ids(owner, group):
    """(uid, gid) for user and group names or numbers; -1 for None (left as is)."""
    ids = []
    for name, db, field in ((owner, "pwd", "pw_uid"), (group, "grp", "gr_gid")):
        if name is None:
            ids.append(-1)
            continue
        try:
            ids.append(int(name))
        except ValueError:
            mod = __import__(db)
            try:
                ids.append(getattr(getattr(mod, "getpwnam" if db == "pwd" else "getgrnam")(name),
                                   field))
            except KeyError:
                raise ValueError("no %s named %r here" % ("user" if db == "pwd" else "group",
                                                          name))
    return ids[0], ids[1]


def _xfer_stat(path, size=None, owner=None, group=None):
    """(exists, is_dir, size, sha256 hex or None, mode, owned): the digest only when the
    file's size is `size` (or size is None), so a changed file costs no read; owned:
    the file has the owner and group asked for (True when none is)."""
    import stat as st
    uid, gid = _xfer_ids(owner, group)
    try:
        s = posix.stat(path)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return (False, False, 0, None, 0, False)
        raise _xfer_error(e, path)
    if st.S_ISDIR(s.st_mode):
        return (True, True, 0, None, st.S_IMODE(s.st_mode), False)
    digest = None
    if st.S_ISREG(s.st_mode) and (size is None or size == s.st_size):
        try:
            fd = posix.open(path, posix.O_RDONLY)
        except OSError as e:
            raise _xfer_error(e, path)
        try:
            digest = _digest_fd(fd)
        finally:
            posix.close(fd)
    owned = uid in (-1, s.st_uid) and gid in (-1, s.st_gid)
    return (True, False, s.st_size, digest, st.S_IMODE(s.st_mode), owned)


def _fsync_dir(d):
    fd = posix.open(d, posix.O_RDONLY)
    try:
        posix.fsync(fd)
    finally:
        posix.close(fd)


def _xfer_put(channel, path, mode, mtime, size, owner=None, group=None):
    """Write what comes on channel to path, atomically: bytes, then the SHA-256 (hex
    text) of all the master read, then its close; owner and group (names or numbers)
    set when given. Returns the bytes written."""
    import stat as st
    _wide_pipes()
    uid, gid = _xfer_ids(owner, group)
    d, name = _tmp_beside(path)
    try:
        if st.S_ISDIR(posix.stat(path).st_mode):
            raise OSError(errno.EISDIR, posix.strerror(errno.EISDIR), path)
    except OSError as e:
        if e.errno not in (errno.ENOENT,):
            raise _xfer_error(e, path)
    fd = -1
    tmp = None                  # ours to remove once made
    try:
        # Made and noted as ours at once: a cancel (CallCancelled) between the open and
        # tmp = name left the file behind (test_transfer saw it on 2.7, whose files
        # are named); a cancel waits for the region's end, then raises.
        _nocancel()
        try:
            fd = _xfer_tmpfile(d)
            if fd < 0:
                fd = posix.open(name, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o600)
                tmp = name
                _xfer_temps.add(tmp)
        finally:
            _cancel_ok()
        _cloexec(fd)
        n = 0
        sha256 = None
        for block in channel:
            if not isinstance(block, bytes):
                sha256 = block
                continue
            n += len(block)
            while block:
                w = posix.write(fd, block)
                block = block[w:]
        # The chunks came as content: each frame checked against the master's chain of
        # what it read, whose digest is the SHA-256 of what was written here.
        content, digest = channel._content_taken()
        if n != size or content != n or digest != sha256:
            raise ValueError("%s: %d bytes with SHA-256 %s came, the master read %d with "
                             "%s; the target is left as it was"
                             % (path, n, digest, size, sha256 or "no digest"))
        posix.fsync(fd)
        if uid != -1 or gid != -1:
            posix.fchown(fd, uid, gid)      # before the mode: it clears set-id bits
        posix.fchmod(fd, mode)
        if tmp is None:             # unnamed (O_TMPFILE): named only now, checked
            posix.utime(fd, (mtime, mtime))
            _nocancel()             # named and noted as ours at once, as above
            try:
                _xfer_link(fd, name)
                tmp = name
                _xfer_temps.add(tmp)
            finally:
                _cancel_ok()
        posix.close(fd)
        fd = -1
        posix.utime(tmp, (mtime, mtime))
        posix.rename(tmp, path)
        _xfer_temps.discard(tmp)
        tmp = None
        _fsync_dir(d)
        return n
    except EnvironmentError as e:
        raise _xfer_error(e, path)
    finally:
        if fd >= 0:
            posix.close(fd)
        if tmp is not None:
            _xfer_temps.discard(tmp)
            try:
                posix.unlink(tmp)
            except OSError:
                pass


def _xfer_get(channel, path, nofollow=False):
    """Send the file at path on channel in chunks. Returns (size, sha256 hex, mode,
    mtime) of what was sent. nofollow (a tree's file): a symbolic link at path is
    refused (ELOOP), not followed."""
    import stat as st
    _wide_pipes()
    flags = posix.O_RDONLY
    if nofollow:
        flags |= getattr(posix, "O_NOFOLLOW", 0)
    try:
        fd = posix.open(path, flags)
    except OSError as e:
        raise _xfer_error(e, path)
    try:
        s = posix.fstat(fd)
        if st.S_ISDIR(s.st_mode):
            raise OSError(errno.EISDIR, posix.strerror(errno.EISDIR), path)
        if not st.S_ISREG(s.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        n = 0
        while True:
            try:
                block = posix.read(fd, _XFER_CHUNK)
            except OSError as e:
                raise _xfer_error(e, path)
            if not block:
                break
            n += len(block)
            channel._send_content(block)    # hashed once: its chain is the digest
        return (n, channel._content_sent(), st.S_IMODE(s.st_mode), s.st_mtime)
    finally:
        posix.close(fd)


def _xfer_tmpfile(d):
    """An unnamed file in directory d (O_TMPFILE, 0600), named once checked
    (_xfer_link): a context killed mid-put leaves nothing. -1 where it cannot be
    (Python 2, no /proc, a filesystem without it): the caller makes a named one."""
    flag = getattr(posix, "O_TMPFILE", 0)
    if not flag or not hasattr(posix, "link") or not posix.access("/proc/self/fd", posix.X_OK):
        return -1
    try:
        return posix.open(d, flag | posix.O_WRONLY, 0o600)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return -1
        raise


def _xfer_link(fd, name):
    """Name the unnamed file fd: linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/FD (a
    src_dir_fd makes Python call linkat)."""
    procfd = posix.open("/proc/self/fd", posix.O_RDONLY)
    try:
        posix.link(str(fd), name, src_dir_fd=procfd, follow_symlinks=True)
    finally:
        posix.close(procfd)


def _xfer_bytes(p):
    """A path as bytes (text paths come as UTF-8)."""
    return p if isinstance(p, bytes) else p.encode("utf-8")


def _xfer_walk_gen(top):
    """The tree at top (bytes), depth first in name order: (relative name as bytes,
    kind, mode, link target as bytes or None, mtime); kind 0 a directory entered, 1 a
    regular file, 2 a symbolic link, 3 a directory left (its mode and mtime, to set once
    it is filled); the top first (name b"") and last. Links never followed, other kinds
    left out. Holds one directory's names per level, never the tree."""
    import stat as st
    s = posix.lstat(top)
    if not st.S_ISDIR(s.st_mode):
        raise OSError(errno.ENOTDIR, posix.strerror(errno.ENOTDIR), top)
    yield (b"", 0, st.S_IMODE(s.st_mode), None, s.st_mtime)
    stack = [(b"", None, st.S_IMODE(s.st_mode), s.st_mtime)]
    while stack:
        rel, names, mode, mtime = stack[-1]
        full = top + b"/" + rel if rel else top
        if names is None:
            try:
                names = iter(sorted(posix.listdir(full)))
            except OSError as e:
                raise _xfer_error(e, full)
            stack[-1] = (rel, names, mode, mtime)
        n = next(names, None)
        if n is None:
            stack.pop()
            yield (rel, 3, mode, None, mtime)
            continue
        r = rel + b"/" + n if rel else n
        p = full + b"/" + n
        try:
            s = posix.lstat(p)
            if st.S_ISLNK(s.st_mode):
                yield (r, 2, 0, posix.readlink(p), s.st_mtime)
        except OSError as e:
            raise _xfer_error(e, p)
        if st.S_ISDIR(s.st_mode):
            yield (r, 0, st.S_IMODE(s.st_mode), None, s.st_mtime)
            stack.append((r, None, st.S_IMODE(s.st_mode), s.st_mtime))
        elif st.S_ISREG(s.st_mode):
            yield (r, 1, st.S_IMODE(s.st_mode), None, s.st_mtime)


# get -r's walks under way: token -> (generator, an entry read ahead or None).
_xfer_walks = {}


def _xfer_walk(path):
    """Start walking the tree at path (get -r): a token for _walk_next, the top checked
    (missing, not a directory: the error now)."""
    top = _xfer_bytes(path)
    gen = _xfer_walk_gen(top)
    try:
        first = next(gen)
    except OSError as e:
        raise _xfer_error(e, path)
    token = len(_xfer_walks) and max(_xfer_walks) + 1 or 1
    _xfer_walks[token] = (gen, first)
    return token


def _xfer_walk_next(token, budget):
    """The walk's next entries (_xfer_walk_gen), about budget bytes of names at most and
    one at least: the tree comes in batches, never in one reply bounded by the message
    size. [] at the end (the walk forgotten, as on an error)."""
    gen, ahead = _xfer_walks[token]
    out = []
    used = 0
    try:
        while ahead is not None:
            cost = len(ahead[0]) + len(ahead[3] or b"") + 64
            if out and used + cost > budget:
                break
            out.append(ahead)
            used += cost
            ahead = next(gen, None)
    except BaseException:
        del _xfer_walks[token]
        raise
    if out:
        _xfer_walks[token] = (gen, ahead)
    else:
        del _xfer_walks[token]
    return out


def _xfer_walk_end(token):
    """Forget a walk the master stops early."""
    _xfer_walks.pop(token, None)


def _xfer_ids_set(path, owner, group):
    """lchown path to owner and group (names or numbers; None: left); True when it
    changed."""
    uid, gid = _xfer_ids(owner, group)
    if uid == -1 and gid == -1:
        return False
    try:
        s = posix.lstat(path)
        if uid in (-1, s.st_uid) and gid in (-1, s.st_gid):
            return False
        posix.lchown(path, uid, gid)
    except OSError as e:
        raise _xfer_error(e, path)
    return True


def _xfer_mkdir(path, mode, owner=None, group=None):
    """A directory at path (a tree's put): made 0700 when missing (its mode and mtime
    set by _dirdone once filled), owner and group set when given; True when made or its
    owner changed."""
    import stat as st
    made = False
    try:
        s = posix.lstat(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise _xfer_error(e, path)
        try:
            posix.mkdir(path, 0o700)
            made = True
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise _xfer_error(e, path)
        s = posix.lstat(path)
    if not st.S_ISDIR(s.st_mode):
        raise OSError(errno.EEXIST, "exists and is not a directory", path)
    return _xfer_ids_set(path, owner, group) or made


def _xfer_dirdone(path, mode, mtime):
    """A tree's directory filled: its mode and mtime set (the mode last, so a read-only
    one could be filled); True when its mode changed."""
    import stat as st
    try:
        s = posix.lstat(path)
        if not st.S_ISDIR(s.st_mode):
            raise OSError(errno.ENOTDIR, posix.strerror(errno.ENOTDIR), path)
        changed = st.S_IMODE(s.st_mode) != mode
        if changed:
            posix.chmod(path, mode)
        if s.st_mtime != mtime:
            posix.utime(path, (mtime, mtime))
    except OSError as e:
        raise _xfer_error(e, path)
    return changed


def _xfer_symlink(target, path, owner=None, group=None):
    """A symbolic link at path to target (a tree's put), made beside it (owner and group
    set when given) and renamed over what is there; True when it changed."""
    try:
        if posix.readlink(path) == target:
            return _xfer_ids_set(path, owner, group)
    except OSError:
        pass
    tmp = _tmp_beside(path)[1]
    _nocancel()     # made, owned and renamed, or removed: a cancel waits for the end
    try:
        posix.symlink(target, tmp)
        try:
            _xfer_ids_set(tmp, owner, group)
            posix.rename(tmp, path)
        except BaseException:
            try:
                posix.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as e:
        raise _xfer_error(e, path)
    finally:
        _cancel_ok()
    return True


def _tmp_beside(path):
    """(directory, a temporary name in it beside path): `.NAME.ec-<12 hex>`, bytes for
    a bytes path."""
    import os
    d, base = os.path.split(path)
    d = d or (b"." if isinstance(path, bytes) else ".")
    suffix = ".ec-" + _hex(os.urandom(6))
    if isinstance(base, bytes) and not isinstance(suffix, bytes):     # 3.x, a bytes path
        return d, os.path.join(d, b"." + base + suffix.encode("ascii"))
    return d, os.path.join(d, "." + base + suffix)


def _hex(b):
    import binascii
    return binascii.hexlify(b).decode("ascii")


# The context exiting mid-put (the master gone, SHUTDOWN): its temporary file goes too.
_xfer_temps = set()


def _xfer_cleanup():
    for tmp in list(_xfer_temps):
        try:
            posix.unlink(tmp)
        except OSError:
            pass


_at_exit.append(_xfer_cleanup)
_econtext._stat = _xfer_stat
_econtext._mkdir = _xfer_mkdir
_econtext._symlink = _xfer_symlink
_econtext._put = _xfer_put
_econtext._get = _xfer_get
_econtext._walk = _xfer_walk
_econtext._walk_next = _xfer_walk_next
_econtext._walk_end = _xfer_walk_end
_econtext._dirdone = _xfer_dirdone
