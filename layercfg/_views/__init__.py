"""Views: a load's records turned into text and JSON for the commands (explain, show, env, the JSON
Schema of a profile file, run receipts read back and compared). A record words itself
(:mod:`layercfg._model.provenance`); a view arranges many of them and never changes what they say.
"""
