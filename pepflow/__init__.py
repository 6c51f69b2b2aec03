"""PEP flow: the Personal Education Plan process for children in care.

Layers (dependencies point one way): domain (models, calendar) <- services
(documents, mail, store) <- workers <- engine adapters <- web/CLI.
"""
