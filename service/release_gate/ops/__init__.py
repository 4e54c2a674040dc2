"""Operations: logs, metrics and the production-mode checks.

::

    logs        text or JSON logs with the request and decision ids (ops.logs)
    metrics     Prometheus counters and histograms (ops.metrics)
    production  what production mode refuses to start with (ops.production)
    reload_signal  SIGHUP's request for a policy reload (ops.reload_signal)
"""
