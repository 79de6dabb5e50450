"""``layercfg scan``: find the code that bypasses the resolver (docs/scan.md).

index.py learns the project (every profile's values, compose ports, the schema's names); scan.py
walks the files and runs match.py's checks on each; messages.py words a finding; report.py
renders text, JSON and SARIF, and reads and writes baselines.
"""
