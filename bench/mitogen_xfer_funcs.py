# bench/mitogen_xfer_funcs.py: what a Mitogen context runs in bench/mitogen_xfer.py,
# served to it by Mitogen's own module forwarder. The put is Ansible's (its
# ansible_mitogen.target.transfer_file: FileService, a temporary name, a rename). The
# get streams the file to the master through a Sender, in Mitogen's chunks: Ansible's
# fetch_file (the whole file as one call's result, ansible_mitogen.target.read_path)
# took 31 s for 256 MiB here, so the faster way stands for Mitogen (128 KiB chunks:
# 7 s; 1 MiB chunks: 11 s).
import os
import tempfile

import mitogen.core
import mitogen.service


def put(context, in_path, out_path):
    fd, tmp = tempfile.mkstemp(prefix='.xfer-', dir=os.path.dirname(out_path))
    fp = os.fdopen(fd, 'wb', mitogen.core.CHUNK_SIZE)
    try:
        ok, meta = mitogen.service.FileService.get(context=context, path=in_path, out_fp=fp)
        if not ok:
            raise IOError('transfer of %r was interrupted' % (in_path,))
        os.fchmod(fp.fileno(), meta['mode'])
    finally:
        fp.close()
    os.rename(tmp, out_path)
    return meta['size']


def get(path, sender):
    n = 0
    with open(path, 'rb') as f:
        while True:
            b = f.read(mitogen.core.CHUNK_SIZE)
            if not b:
                break
            sender.send(mitogen.core.Blob(b))
            n += len(b)
    sender.close()
    return n
