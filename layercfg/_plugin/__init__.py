"""The pytest plugin's internals; ``layercfg/pytest_plugin.py`` holds only its hooks and fixtures.

state.py is what a session knows (imported with the entry point in every pytest run, so it
imports only the standard library and pytest); stack.py resolves once per session and brings the
stack up; header.py is the report header; marker.py is ``requires_service`` and pytest-timeout's
limit; runfile.py is the service summary, the skip budget and the run receipt.
"""
