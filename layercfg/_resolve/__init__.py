"""Resolution: every layer's candidates for a field become one value with its receipt.

merge.py ranks the candidates per field; convert.py turns raw text into the field's type;
endpoints.py keeps a URL and its parts in agreement; resolver.py runs the steps (plain values,
endpoints, derived values); conflicts.py finds ports that disagree with the running containers;
probe.py asks an endpoint whether it answers; fallback.py switches to staging when it does not.
"""
