# One-command set-up and run targets. Each target creates .venv if missing,
# installs the project (editable) with what the target needs, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO_OUT ?= demo_out

.PHONY: demo test syslibs venv clean

syslibs:
	@bash scripts/check_syslibs.sh

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e ".[test,bags]"
	touch $@ $(VENV)/.installed-base

demo: syslibs $(VENV)/.installed-base
	$(VENV)/bin/navion synth --out $(DEMO_OUT)/hall_default --seed 0
	$(VENV)/bin/navion info $(DEMO_OUT)/hall_default

test: syslibs $(VENV)/.installed-test
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
