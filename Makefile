# make main : set up (first time ~15 min on 2 CPU cores) and train + test
#             SAIS on fruits_nuts
# make test : set up if needed and run the full test suite (what CI runs),
#             one pytest-xdist worker per core
# make test-fast : the fast tier, pytest -m "not slow" on one worker per
#                  core (under a minute on 2 cores)
PY := $(or $(ZOO_VENV),$(CURDIR)/.venv)/bin/python

.PHONY: setup main test test-fast
setup:
	bash tools/setup.sh

main: setup
	bash tools/run_main.sh

test: setup
	$(PY) -m pytest tests -q -n auto --dist loadfile --durations=25

test-fast: setup
	$(PY) -m pytest tests -q -m "not slow" -n auto --dist loadfile
