"""Workflow logic behind the workflow pages, one module per workflow; nothing here imports streamlit."""
