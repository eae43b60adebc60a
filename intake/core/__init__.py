"""The core: settings, the store, blobs, the job registry and the domain services.

Imports no collector, worker, web or CLI module (checked by ``./dev lint``).
"""
