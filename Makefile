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

# The synthetic sequence is cached: delete $(DEMO_OUT)/hall_default to re-render it.
demo: syslibs $(VENV)/.installed-base
	@if [ ! -f $(DEMO_OUT)/hall_default/navion_synth.json ]; then \
		rm -rf $(DEMO_OUT)/hall_default && \
		$(VENV)/bin/navion synth --out $(DEMO_OUT)/hall_default --seed 0; \
	fi
	$(VENV)/bin/navion info $(DEMO_OUT)/hall_default
	$(VENV)/bin/navion replay $(DEMO_OUT)/hall_default --out $(DEMO_OUT)/replay
	$(VENV)/bin/navion energy $(DEMO_OUT)/replay --hw navion65

test: syslibs $(VENV)/.installed-test
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
