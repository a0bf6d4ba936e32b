"""Observed traffic, judged: ``conformance proxy`` and ``conformance judge`` (at the run's level).

Owns the proxy (``_app``: an ASGI app forwarding unchanged to the upstream, teeing a bounded
copy of each answer), the exchange built from the bytes that passed (``_observe``), what is
kept without ``--keep-bodies`` (``_private``), the tally of verdicts over many exchanges
(``_tally``, through exploration's ``Judge`` and the run's results builder), the judging
thread and ``--record`` file (``_judging``) and the readers of recorded traffic
(``_recorded``). May import ``wire``, ``contract``, ``checks``, ``engine``, ``explore`` and
``run``; never pytest, HTML, click, rich, or the report (the CLI renders what it publishes).
"""
