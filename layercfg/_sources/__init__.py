"""Sources: what reads the world and returns layers of (field, raw value, Origin) entries.

files.py reads files with located errors; project.py reads ``[tool.layercfg]``; env.py gives the
schema defaults, the environment, dotenv files and overrides; profiles.py (with formats.py for
YAML, JSON and INI) reads profile files; compose.py and interpolate.py read compose files;
engine.py reaches the Docker engine within a budget; containers.py finds a service's container
and published port; discovery.py joins compose files and containers into the discovery layers.
Nothing here writes ``os.environ``; every reader takes the mapping it reads.
"""
