"""Helpers for tests/test_slurm.py: a throwaway single-node Slurm cluster (harness)."""
