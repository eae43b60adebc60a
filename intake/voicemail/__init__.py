"""Voicemail intake: uploads, Twilio webhooks, PBX voicemail mail and a spool folder."""
