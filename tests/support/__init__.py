"""Helpers shared by the tests: fakes, misbehaving workloads and the scripts that run them."""
