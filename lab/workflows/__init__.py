"""Workflow logic behind the babysitting, search and comparison pages (no streamlit here)."""
