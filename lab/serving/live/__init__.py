"""The live feeds: compact Plotly specs of running runs, read from the store for the browser's polls."""
