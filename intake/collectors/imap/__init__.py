"""The IMAP collector: one connection thread per mailbox, IDLE or polling."""
