"""The parts of `app.build_app`, one module a subsystem: core.py (the domain's services and the
outbox), delivery.py, media.py, dialects.py, scripts.py, policies.py (Kazoo), nodes.py
(FreeSWITCH: the event router and a client per node), ownership.py and commands.py (several
daemons), readiness.py (/readyz)."""
