"""Intake Gateway: email and voicemail intake for customer service teams."""
