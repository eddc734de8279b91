"""The package's one compiled part, optional: opsdesk/monitoring/_pushscan.c checks a host agent's
push and writes its VictoriaMetrics lines in C (see its head comment). Where no C compiler or no
Python headers are found, the package installs without it and every push goes the Python way."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("opsdesk.monitoring._pushscan", ["opsdesk/monitoring/_pushscan.c"], optional=True,
                             extra_compile_args=["-O2"])])
