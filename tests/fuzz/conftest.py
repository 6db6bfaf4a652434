# fuzz_requests.py is a separate command (`./dev fuzz [N]`), not part of the pytest run;
# tests/property/test_fuzz_smoke.py runs a few hundred of its cases in the suite.
collect_ignore = ["fuzz_requests.py"]
