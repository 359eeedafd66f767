"""Empathy: sentiment as a first-class state in automated customer journeys.

A plain package: every stage is a function over the DuckDB database. Airflow runs the stages;
only ``empathy.connections`` knows Airflow exists.
"""
__version__ = "0.1.0"
