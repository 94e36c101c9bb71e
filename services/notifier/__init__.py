"""The notifier: ``events/#`` -> a JSON log, e-mails now, e-mail digests with photos.

Run it with ``sightline-notifier --config FILE`` (or ``python -m notifier``).
"""
