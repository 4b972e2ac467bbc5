"""Service mode: ``attribution serve``, an HTTP API with authenticated roles, the reviewer
console and a read-only TAXII 2.1 server, over the same library the command line uses.

One home per job:

``config``       the service's own configuration and state folder (never the caller's)
``principals``   principals, roles, rights and hashed tokens (SQLite in the state folder)
``auth``         who is asking: bearer tokens, role checks, the per-token rate limit
``errors``       the JSON error body every failure answers with
``middleware``   request size limit and one structured log line per request
``context``      what a request handler reaches: graph, stores, configuration, clock
``reports``      reports the service generated, signed with its key, recorded in the audit chain
``workflow``     approvals through the service: the policy is the service's, the actor is the
                 authenticated principal
``jobs``         indicator files submitted by pipelines, processed in the background
``routes/``      one module per API area, under ``/api/v1``
``console``      the reviewer console (server-rendered pages at ``/console/``)
``taxii``        TAXII 2.1 at ``/taxii2/``
``app``          assembles the FastAPI application
``client``       the HTTP client the command line uses when a service is configured
"""
