"""``python -m workers``: the pyzeebe worker service for Camunda 8.

Settings come from the environment: ``PEP_ZEEBE_*`` (gateway, TLS, OAuth),
``PEP_DATABASE_URL`` (records store), ``PEP_SMTP_*`` (mail relay), ``PEP_DATA_DIR``.
See ``docs/camunda8.md``.
"""

import asyncio

from pepflow.zeebe.service import main

if __name__ == "__main__":
    asyncio.run(main())
