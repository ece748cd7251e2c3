# bench/mitogen_xfer.py: Mitogen's file transfer over ssh, as Ansible uses it, for
# bench/transfer-ssh.sh to alternate with econtext's put and get and scp (one fresh
# master and context per run: the boot is counted, as in the others).
#   MITOGEN_SRC=/tmp/mitogen-0.3.51 python3 bench/mitogen_xfer.py put|get SRC DST \
#       --port P --user U --key K [--python /usr/bin/python3]
# put: the master's FileService streams SRC to the context, which writes DST
# (ansible_mitogen.target.transfer_file); get: the context streams SRC through a
# Sender, the master writes DST as chunks come. ssh compression off (Mitogen's default is
# on: a cost on bytes that do not compress).
import argparse
import os
import sys

sys.path.insert(0, os.environ.get('MITOGEN_SRC', '/tmp/mitogen-0.3.51'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mitogen.core  # noqa: E402
import mitogen.master  # noqa: E402
import mitogen.service  # noqa: E402
import mitogen_xfer_funcs as funcs  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument('op', choices=['put', 'get'])
    p.add_argument('src')
    p.add_argument('dst')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--key', required=True)
    p.add_argument('--python', default='/usr/bin/python3')
    a = p.parse_args()
    broker = mitogen.master.Broker()
    pool = None
    router = mitogen.master.Router(broker, max_message_size=1 << 30)
    try:
        ctx = router.ssh(hostname=a.host, port=a.port, username=a.user,
                         identity_file=a.key, check_host_keys='ignore',
                         compression=False, python_path=a.python)
        if a.op == 'put':
            svc = mitogen.service.FileService(router)
            pool = mitogen.service.Pool(router, services=[svc], size=2)
            svc.register(a.src)
            n = ctx.call(funcs.put, router.myself(), a.src, a.dst)
        else:
            recv = mitogen.core.Receiver(router)
            call = ctx.call_async(funcs.get, a.src, recv.to_sender())
            with open(a.dst, 'wb') as f:
                for msg in recv:
                    f.write(msg.unpickle())
            n = call.get().unpickle()
        if n != os.path.getsize(a.src if a.op == 'put' else a.dst):
            sys.exit('mitogen_xfer: %d bytes moved' % n)
    finally:
        if pool:
            pool.stop(join=True)
        broker.shutdown()
        broker.join()


if __name__ == '__main__':
    main()
