"""Run a repository tool as ``python TOOL ARGS`` would, in a child forked
from a process that has already imported torch, mmcv, mmdet and projects.

A fresh interpreter spends about 5 s on those imports before a tool does
anything, and the slow tier runs tools some 70 times. The child gets the
tool's argv, working directory, environment, ``sys.path`` (the script's
folder first, then PYTHONPATH, then the interpreter's own) and exit status
(``SystemExit`` code, 1 after an uncaught exception with its traceback on
stderr), with stdout and stderr captured to text.

The forking process is multiprocessing's forkserver, started once per test
process with these modules preloaded; it imports and never computes, so
its children start with no OpenMP thread pool to inherit. What a fork
cannot give is a fresh ``sys.modules``: a test that blocks imports, kills a
process tree or starts torchrun runs its own subprocess (``run_tool(...,
fresh=True)`` in conftest).
"""
import logging
import multiprocessing
import os
import os.path as osp
import runpy
import subprocess
import sys
import tempfile
import traceback
from typing import Dict, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

TESTS = osp.join(ROOT, 'tests')

# the interpreter's own path, without what the forkserver's start added
_BASE_PATH = [p for p in sys.path
              if p and osp.abspath(p) not in (ROOT, TESTS)]


def _preload() -> None:
    """Import what every tool imports (run in the forkserver)."""
    sys.path.insert(0, ROOT)
    try:
        import mmdet.apis  # noqa: F401
        import mmdet.models  # noqa: F401
        import mmengine.runner  # noqa: F401
        import projects  # noqa: F401
        import torch  # noqa: F401
    finally:
        sys.path.remove(ROOT)


if os.environ.get('ZOO_TOOL_PRELOAD') == '1':
    _preload()


def _run_in_child(argv: Sequence[str], cwd: str, env: Dict[str, str],
                  out_path: str, err_path: str) -> None:
    """The child: redirect fds 1 and 2, set up argv/cwd/env/sys.path, run
    the script, module (``-m``) or program (``-c``), exit with its code."""
    for fd, path in ((1, out_path), (2, err_path)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(f, fd)
        os.close(f)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    pythonpath = [osp.abspath(p) for p in
                  env.get('PYTHONPATH', '').split(os.pathsep) if p]
    import torch
    torch.set_num_threads(int(env.get('OMP_NUM_THREADS') or
                              os.cpu_count()))
    code = 0
    try:
        if argv[0] == '-c':
            sys.path[:] = [''] + pythonpath + _BASE_PATH
            sys.argv = ['-c', *argv[2:]]
            exec(compile(argv[1], '<string>', 'exec'),
                 {'__name__': '__main__'})
        elif argv[0] == '-m':
            sys.path[:] = [cwd] + pythonpath + _BASE_PATH
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
        else:
            script = osp.abspath(argv[0])
            sys.path[:] = [osp.dirname(script)] + pythonpath + _BASE_PATH
            sys.argv = list(argv)
            runpy.run_path(script, run_name='__main__')
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            code = 1
        else:
            code = e.code or 0
    except BaseException:  # as the interpreter does: traceback, status 1
        traceback.print_exc()
        code = 1
    logging.shutdown()  # as the interpreter's exit: flush the log files
    sys.stdout.flush()
    sys.stderr.flush()
    # not os._exit: multiprocessing's exit of the child then terminates the
    # tool's daemonic children (DataLoader workers), which would otherwise
    # outlive it and keep the forkserver's pipes open
    sys.exit(code)


_CONTEXT = None


def _context():
    """multiprocessing's forkserver context, its server started with this
    module preloaded (the server reads its path and the preload switch from
    the environment at its start; this process's are restored after)."""
    global _CONTEXT
    if _CONTEXT is None:
        import multiprocessing.forkserver as forkserver
        context = multiprocessing.get_context('forkserver')
        context.set_forkserver_preload([__name__])
        saved = dict(os.environ)
        os.environ['ZOO_TOOL_PRELOAD'] = '1'
        os.environ['PYTHONPATH'] = TESTS
        try:
            forkserver.ensure_running()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        _CONTEXT = context
    return _CONTEXT


def run_forked(argv: Sequence[str], cwd: str, env: Dict[str, str],
               timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, *argv], ...)`` with the imports
    already done.

    Args:
        argv: a script path, ``-m MODULE`` or ``-c PROGRAM``, then its
            arguments.
        cwd: the working directory.
        env: the complete environment of the run.
        timeout: seconds before the child is killed.

    Returns:
        CompletedProcess: ``returncode``, ``stdout`` and ``stderr`` (text).

    Raises:
        subprocess.TimeoutExpired: the tool ran longer than ``timeout``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out, err = osp.join(tmp, 'stdout'), osp.join(tmp, 'stderr')
        proc = _context().Process(target=_run_in_child,
                                  args=(list(argv), cwd, dict(env), out, err))
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
            raise subprocess.TimeoutExpired([sys.executable, *argv], timeout)
        texts = []
        for path in (out, err):
            with open(path, errors='replace') as f:
                texts.append(f.read())
    return subprocess.CompletedProcess([sys.executable, *argv],
                                       proc.exitcode, *texts)
