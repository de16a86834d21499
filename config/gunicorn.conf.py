# gunicorn's settings for every way the web process is started (Dockerfile, docker-compose,
# bench_load). The access log goes through config.gunicorn_logging, which keeps link tokens,
# query strings, referer paths, cookies and Authorization headers out of every line.
logger_class = "config.gunicorn_logging.RedactingLogger"
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
