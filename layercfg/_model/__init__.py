"""Records and pure helpers: what every floor above is written in terms of. No I/O here.

schema.py is what a schema author writes (``setting()``, ``Service``, the engine settings);
services.py turns service declarations into the load's service model; fieldtable.py builds a
load's table of fields from both; provenance.py holds the receipt's records (Origin, Candidate,
FieldTrace, Notice, Entry, Layer) and words them; secrets.py masks; urls.py reads and replaces
the parts of a URL; ports.py is compose's port grammar; words.py the boolean words and
``FIELD=VALUE`` (standard library only: the pytest plugin imports it in every run).
"""
