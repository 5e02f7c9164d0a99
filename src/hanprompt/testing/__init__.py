"""Builders of tiny real models for tests, demos and benchmarks (no download needed)."""
