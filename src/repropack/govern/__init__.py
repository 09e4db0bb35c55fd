"""Governance: replay packages of the repository by policy, on Dask, with durable state and regressions."""
