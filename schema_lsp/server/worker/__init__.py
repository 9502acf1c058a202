"""The model-loading worker: runs in the project's interpreter, never in the server.

Nothing here may import pygls or lsprotocol: the worker needs only SQLAlchemy and the
database driver from the user's environment.
"""
