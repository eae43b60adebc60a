"""IMAP collector: one long-lived connection per mailbox, IDLE when offered, polling otherwise.

Pure decisions (after-actions, backoff, UID sync, failure wording, OAuth2 grants) live in their
own modules and are tested without a server; ``connection``, ``worker`` and ``manager`` are the
thin imapclient adapter around them.
"""
