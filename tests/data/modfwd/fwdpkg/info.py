import sys


def helper():
    return "source of helper"


def attrs():
    import fwdpkg
    import fwdpkg.sub.leaf as leaf
    import importlib
    import inspect
    me = sys.modules[__name__]
    spec = getattr(me, '__spec__', None)
    return {
        'name': __name__,
        'file': __file__,
        'package': __package__,
        'package_type': type(__package__).__name__,
        'pkg_path': list(fwdpkg.__path__),
        'pkg_package': fwdpkg.__package__,
        'leaf_package': leaf.__package__,
        'spec_name': spec.name if spec else None,
        'spec_parent': spec.parent if spec else None,
        'loader_source': me.__loader__.get_source(__name__).count('def attrs'),
        'getsource': inspect.getsource(helper),
        'import_module': importlib.import_module('fwdpkg.sub.leaf').twice(4),
        'version': list(fwdpkg.VERSION),
    }


def try_import(name):
    try:
        __import__(name)
    except ImportError:
        return str(sys.exc_info()[1])
    return None


def where(name):
    __import__(name)
    return sys.modules[name].__file__


def loaded(prefix):
    return sorted(n for n in sys.modules if sys.modules[n] is not None and
                  (n == prefix or n.startswith(prefix + '.')))


def children(name):
    """pkgutil.iter_modules over a package's __path__: [[name, ispkg], ...]."""
    import pkgutil
    __import__(name)
    return [[m[1], bool(m[2])] for m in pkgutil.iter_modules(sys.modules[name].__path__)]


def walk(name):
    """pkgutil.walk_packages below a package, skipping what fails to import."""
    import pkgutil
    __import__(name)
    pkg = sys.modules[name]
    return sorted(m[1] for m in pkgutil.walk_packages(pkg.__path__, name + '.',
                                                      onerror=lambda n: None))
