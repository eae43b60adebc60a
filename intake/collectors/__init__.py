"""Collectors: SMTP, IMAP and the voicemail spool. They store each item and enqueue it.

They import only the core and the pure libraries (checked by ``./dev lint``).
"""
