"""Camunda 8 (Zeebe) side of the product.

- :mod:`.settings`: ``PEP_ZEEBE_*`` settings (gateway address, TLS, OAuth client
  credentials) and the ``PEP_ENGINE`` switch between the embedded engine and Zeebe.
- :mod:`.channel`: the gRPC channel those settings describe.
- :mod:`.service`: the worker service ``python -m workers`` (every router of
  ``workers.build_routers`` on one pyzeebe ``ZeebeWorker``).
- :mod:`.client`: deploy ``bpmn/`` and ``forms/``, start instances and publish
  messages on Zeebe, behind the same method names as the embedded engine.
- :mod:`.facade`: a Zeebe gateway (gRPC) over the embedded engine, so the worker
  service, ``zbctl`` and any Zeebe client can be proven without a broker.
"""
