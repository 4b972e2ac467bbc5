"""One module per API area; each exposes ``router`` (mounted under ``/api/v1`` by
:mod:`attribution.service.app`)."""
